"""The store's one writer per SQLite file and process (``store/writer.py``).

Blocks that wait for the writer while another holds it run in the holder's
transaction and share one commit; every caller returns only once its writes are
committed (another connection sees them); a block that fails undoes its own
writes only; a caller that would not wait is refused at once with a busy error
(503 at the server); functions queued for the writer's thread share a
transaction; every kind of write (hand-written SQL, SQLAlchemy Core, the
service's registry and run calls) goes through it; processes on one file each
have their own writer; PostgreSQL has none.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from modelyard.entities import Metric
from modelyard.server.failures import error_payload, is_busy
from modelyard.store import Database
from modelyard.store.writer import WriterBusy

from ..conftest import make_service


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with database.fast_write() as tx:
        tx.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY)")
    yield database
    database.dispose()


def _others_see(db: Database) -> list[int]:
    """What a separate connection (another process, say) reads: committed rows only."""
    other = sqlite3.connect(db.engine.url.database)
    try:
        return [n for (n,) in other.execute("SELECT n FROM probe ORDER BY n")]
    finally:
        other.close()


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


class Holder(threading.Thread):
    """Holds the writer (inside a write of row 0) until released."""

    def __init__(self, db: Database) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.inside = threading.Event()
        self.release = threading.Event()
        self.seen: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES (0)")
                self.inside.set()
                self.release.wait(20)
        except BaseException as exc:  # noqa: BLE001  (checked by the test)
            self.error = exc
        self.seen = _others_see(self.db)

    def __enter__(self) -> Holder:
        self.start()
        assert self.inside.wait(20)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.join(20)
        assert not self.is_alive()


def _in_threads(fns: dict[int, Callable[[], Any]]) -> tuple[dict[int, Any], list[threading.Thread]]:
    outcomes: dict[int, Any] = {}

    def run(n: int) -> None:
        try:
            outcomes[n] = fns[n]()
        except BaseException as exc:  # noqa: BLE001  (checked by the test)
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in fns]
    for t in threads:
        t.start()
    return outcomes, threads


def test_blocks_that_wait_share_the_holders_commit_and_return_once_it_is_durable(db):
    def write(n: int) -> Callable[[], list[int]]:
        def fn() -> list[int]:
            with db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES (?)", (n,))
            return _others_see(db)  # what is committed when the caller is answered
        return fn

    with Holder(db) as holder:
        before = db.writer.commits
        outcomes, threads = _in_threads({n: write(n) for n in range(1, 6)})
        _until(lambda: db.writer.waiting == 5, "the five callers wait for the writer")
        assert _others_see(db) == []
    for t in threads:
        t.join(20)
    assert db.writer.commits - before == 1  # six callers, one transaction, one commit
    for n in range(1, 6):
        assert n in outcomes[n], outcomes[n]
    assert holder.seen == [0, 1, 2, 3, 4, 5]


def test_a_block_that_fails_undoes_its_own_writes_only(db):
    def ok(n: int) -> Callable[[], None]:
        def fn() -> None:
            with db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES (?)", (n,))
        return fn

    def raises() -> None:
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (20)")
            raise KeyError("this caller gives up")

    def duplicate() -> None:
        with db.write() as conn:
            conn.execute(text("INSERT INTO probe VALUES (30)"))
            conn.execute(text("INSERT INTO probe VALUES (0)"))  # the holder's row: this block fails

    with Holder(db):
        outcomes, threads = _in_threads({1: ok(1), 2: raises, 3: duplicate, 4: ok(4)})
        _until(lambda: db.writer.waiting == 4, "the four callers wait for the writer")
    for t in threads:
        t.join(20)
    assert outcomes[1] is None and outcomes[4] is None
    assert isinstance(outcomes[2], KeyError)
    assert "UNIQUE" in str(outcomes[3])
    assert _others_see(db) == [0, 1, 4]


def test_a_transaction_lost_under_a_later_block_fails_every_block_in_it(db):
    """SQLite rolls a transaction back on an I/O error or a full disk: the blocks that handed it over are
    told (their writes are gone too), the caches are cleared, nothing is committed."""
    from modelyard.store.database import UnitLost

    cleared: list[int] = []
    db.after_rollback.append(lambda: cleared.append(1))

    def lose() -> None:
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (9)")
            tx.execute("ROLLBACK")  # what SQLite itself does on an I/O error

    holder = Holder(db)
    holder.start()
    assert holder.inside.wait(20)
    outcomes, threads = _in_threads({1: lose})
    _until(lambda: db.writer.waiting == 1, "the caller waits for the writer")
    holder.release.set()
    holder.join(20)
    assert not holder.is_alive(), "the holder never learnt how its transaction ended"
    assert isinstance(holder.error, UnitLost)
    for t in threads:
        t.join(20)
    assert isinstance(outcomes[1], UnitLost)
    assert holder.seen == [] and _others_see(db) == [] and cleared
    with db.fast_write() as tx:
        tx.execute("INSERT INTO probe VALUES (5)")
    assert _others_see(db) == [5]


def test_a_bare_unit_takes_no_savepoints_and_a_write_failing_in_it_loses_all_of_it(db):
    """``unit_of_work(bare=True)`` (the hot path's call alone): writes joining it take no savepoint,
    so one that fails, even if its error is caught, leaves nothing of the unit to commit."""
    from modelyard.store.database import UnitLost

    statements: list[str] = []
    with db.unit_of_work(bare=True) as uow:
        uow.driver.set_trace_callback(statements.append)
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (1)")
        uow.driver.set_trace_callback(None)
    assert not any("SAVEPOINT" in s for s in statements), statements
    assert _others_see(db) == [1]

    with pytest.raises(UnitLost):
        with db.unit_of_work(bare=True):
            with db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES (2)")
            try:
                with db.fast_write() as tx:
                    tx.execute("INSERT INTO probe VALUES (3)")
                    tx.execute("INSERT INTO probe VALUES (1)")  # a duplicate: this write fails
            except sqlite3.IntegrityError:
                pass  # caught: without a savepoint its row 3 would stay, so the unit must not commit
    assert _others_see(db) == [1]

    with db.unit_of_work():  # not bare: the failed write is undone alone, the rest commits
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (2)")
        try:
            with db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES (3)")
                tx.execute("INSERT INTO probe VALUES (1)")
        except sqlite3.IntegrityError:
            pass
    assert _others_see(db) == [1, 2]


def test_a_caller_that_would_not_wait_is_refused_at_once_with_a_busy_error(db):
    with Holder(db), pytest.raises(WriterBusy) as caught, db.unit_of_work(wait=False):
        pytest.fail("ran while another caller held the writer")
    assert is_busy(caught.value)
    status, body = error_payload(caught.value, "POST", "/x")
    assert status == 503 and body["error_code"] == "TEMPORARILY_UNAVAILABLE"
    with db.unit_of_work(wait=False), db.fast_write() as tx:  # free again
        tx.execute("INSERT INTO probe VALUES (7)")
    assert _others_see(db) == [0, 7]


def test_a_caller_waits_for_the_writer_no_longer_than_the_busy_timeout(db):
    """A block that never ends (or one waiting for this very caller) costs the others a busy error, not a hang."""
    db.writer.busy_timeout_ms = 50
    with Holder(db), pytest.raises(WriterBusy) as caught, db.fast_write():
        pytest.fail("ran while another caller held the writer")
    assert is_busy(caught.value) and db.writer.waiting == 0
    db.writer.busy_timeout_ms = 60_000
    with db.fast_write() as tx:
        tx.execute("INSERT INTO probe VALUES (8)")
    assert _others_see(db) == [0, 8]


def test_queued_functions_share_a_transaction_and_are_answered_after_its_commit(db):
    gate = threading.Event()
    answers: dict[int, Any] = {}
    finished = threading.Event()

    def insert(n: int) -> Callable[[], int]:
        def fn() -> int:
            if n == 0:
                gate.wait(20)  # hold the writer's thread while the others queue up
            with db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES (?)", (n,))
            if n == 3:
                raise ValueError("this one fails")
            return n
        return fn

    def done_for(n: int) -> Callable[[Any, BaseException | None], None]:
        def done(result: Any, exc: BaseException | None) -> None:
            answers[n] = (exc if exc is not None else result, _others_see(db))
            if len(answers) == 5:
                finished.set()
        return done

    before = db.writer.commits
    for n in range(5):
        db.writer.submit(insert(n), done_for(n))
    assert not db.writer.idle
    gate.set()
    assert finished.wait(20)
    assert db.writer.idle
    assert db.writer.commits - before <= 2  # the first call alone at most, then the four queued behind it
    for n in (0, 1, 2, 4):
        result, committed = answers[n]
        assert result == n and n in committed
    assert isinstance(answers[3][0], ValueError)
    assert _others_see(db) == [0, 1, 2, 4]
    db.writer.stop()
    assert db.writer._thread is None


def test_every_write_of_the_service_goes_through_the_writer(tmp_path):
    """Registry (SQLAlchemy Core) and runs (hand-written SQL) calls wait for the writer a holder keeps."""
    svc = make_service(f"sqlite:///{tmp_path / 's.db'}", tmp_path)
    try:
        run_id = svc.runs.create(svc.experiments.create("e")).info.run_id
        db = svc.store.db
        inside, release = threading.Event(), threading.Event()

        def hold() -> None:
            with db.unit_of_work():
                inside.set()
                release.wait(20)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert inside.wait(20)
        outcomes, threads = _in_threads({
            1: lambda: svc.registry.create_registered_model("churn"),
            2: lambda: svc.runs.log_metric(run_id, Metric("loss", 0.5, 1, 0)),
            3: lambda: svc.experiments.create("another"),
        })
        _until(lambda: db.writer.waiting == 3, "the three service calls wait for the writer")
        release.set()
        for t in [holder, *threads]:
            t.join(20)
        assert not any(isinstance(o, BaseException) for o in outcomes.values()), outcomes
        assert svc.registry.get_registered_model("churn").name == "churn"
        assert [m.value for m in svc.runs.metric_history(run_id, "loss").items] == [0.5]
    finally:
        svc.close()


def _write_from_process(uri: str, who: str, threads: int, rows: int) -> None:
    db = Database(uri)

    def work(t: int) -> None:
        for i in range(rows):
            if i % 2:
                with db.fast_write() as tx:
                    tx.execute("INSERT INTO rows VALUES (?, ?)", (f"{who}-{t}", i))
            else:
                with db.write() as conn:
                    conn.execute(text("INSERT INTO rows VALUES (:w, :i)"), {"w": f"{who}-{t}", "i": i})

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    db.dispose()


def test_processes_on_one_file_each_with_their_own_writer_lose_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'p.db'}"
    db = Database(uri)
    with db.fast_write() as tx:
        tx.execute("CREATE TABLE rows (who TEXT, n INTEGER, PRIMARY KEY (who, n))")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_from_process, args=(uri, f"p{i}", 4, 40)) for i in range(2)]
    for p in procs:
        p.start()
    _write_from_process(uri, "main", 4, 40)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with db.fast_read() as tx:
        assert tx.one("SELECT count(*), count(DISTINCT who) FROM rows") == (3 * 4 * 40, 12)
    db.dispose()


def test_postgresql_has_no_writer(pg_db):
    assert pg_db.writer is None  # writes go straight through the pool: the server orders them


def test_a_block_alone_commits_before_it_returns_and_is_refused_while_the_writer_is_in_use(db):
    """``writer.alone(fn)`` (the server's lone hot call, on its event loop): a bare block in a transaction
    of its own, committed before it returns; None and nothing run while another caller holds the writer
    or another process the file's lock; a failure (even one caught inside it) commits nothing."""
    from modelyard.store.database import UnitLost

    writer = db.writer
    statements: list[str] = []

    def write(n: int) -> int:
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (?)", (n,))
        if n == 1:
            assert _others_see(db) == []  # not committed while the block runs
        return n * 10

    writer._connection()[1].set_trace_callback(statements.append)
    assert writer.alone(write, 1) == 10
    writer._connection()[1].set_trace_callback(None)
    assert _others_see(db) == [1]
    assert not any("SAVEPOINT" in s for s in statements), statements

    ran: list[int] = []
    with Holder(db):  # another caller of this process holds the writer
        assert writer.alone(ran.append, 2) is None
    other = sqlite3.connect(db.engine.url.database)
    other.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        assert writer.alone(ran.append, 3) is None
    finally:
        other.rollback()
        other.close()
    assert ran == []

    def caught_failure() -> None:
        with db.fast_write() as tx:
            tx.execute("INSERT INTO probe VALUES (4)")
        try:
            with db.fast_write() as tx:
                tx.execute("INSERT INTO probe VALUES (1)")  # a duplicate
        except sqlite3.IntegrityError:
            pass

    with pytest.raises(UnitLost):
        writer.alone(caught_failure)
    with pytest.raises(ZeroDivisionError):
        writer.alone(lambda: write(5) // 0)
    assert _others_see(db) == [0, 1]
    assert writer.alone(write, 6) == 60  # the writer is free again
    assert _others_see(db) == [0, 1, 6]
