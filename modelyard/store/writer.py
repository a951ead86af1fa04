"""The one writer of a SQLite file in this process, with group commit.

SQLite lets one connection write at a time. Instead of each thread opening a write
transaction of its own, queueing on the file's lock and paying a commit each (an fsync
on ``synchronous=FULL``), every write of a process on a SQLite file goes through the
:class:`Writer` of its :class:`~.database.Database`: one connection, used by one caller
at a time. A caller that finds it in use waits its turn. When a caller's block is done
and others are waiting, it hands the connection over *without committing*: their blocks
run in the same transaction, each in a savepoint of its own (a block that fails undoes
its own writes only), and the last one commits for all of them. Every caller returns
once the transaction holding its writes has committed, or raises if that failed:
nothing is acknowledged before it is durable.

This is datasette's ``Database.execute_write_fn`` (one write connection per database,
fed through a queue), except that a thread which may block anyway (a request handler in
a worker thread, the SDK in process) runs its own block on the connection instead of
hopping to another thread and back. Callers that must not block, the server's event
loop, use :meth:`Writer.submit`: the functions they queue run on the writer's thread,
those queued together in one transaction.

Several processes on one file each have their own writer; SQLite's lock orders them
(the first block of a transaction waits for it up to the busy timeout, then fails with
``database is locked``, which the server answers 503 with a retry hint).
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection

from .engine import BUSY_TIMEOUT_MS
from .unit import CURRENT, Joined, Tx, UnitLost, UnitOfWork

if TYPE_CHECKING:
    from .database import Database

T = TypeVar("T")
GROUP_MAX = 256  # blocks in one transaction at most: the first of them waits for the commit no longer


class WriterBusy(sqlite3.OperationalError):
    """The writer was in use (or another process held the file's write lock) and the caller would not wait.

    Carries SQLite's ``SQLITE_BUSY`` code, as the driver's own "database is locked" does."""

    def __init__(self, message: str = "database is locked: the writer is in use") -> None:
        super().__init__(message)
        self.sqlite_errorcode = sqlite3.SQLITE_BUSY
        self.sqlite_errorname = "SQLITE_BUSY"


class _Group:
    """One transaction on the writer's connection and the blocks that wrote in it."""

    __slots__ = ("done", "error", "handed", "members", "uow")

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.members = 0  # blocks finished in it
        self.handed = False  # handed over: blocks wait for its end
        self.done = False  # committed or rolled back
        self.error: BaseException | None = None  # why it did not commit


class Writer:
    """One SQLite connection for every write of a process, handed from caller to caller (see the module).

    ``with writer.member(wait) as uow``: the block runs in the writer's open transaction
    (``uow``, a :class:`~.database.UnitOfWork`), committed with the others' before the
    ``with`` returns. ``wait=False``: fail at once (:class:`WriterBusy`, or SQLite's own
    busy error) rather than wait for the connection or the file's lock; such a caller
    commits when its block is done (it is the server's event loop: it must not wait for
    others' blocks).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        # How long a caller waits for the writer, and a transaction's first block for another
        # process's write lock, before a busy error.
        self.busy_timeout_ms = BUSY_TIMEOUT_MS
        self._start()

    def _start(self) -> None:
        """Fresh state: at creation, and in a forked child (the parent's connection, lock and thread
        are not the child's; the parent's connection is dropped, never used or closed explicitly)."""
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)  # the connection was handed over or released
        self._ended = threading.Condition(self._lock)  # a transaction committed or rolled back
        self._busy = False  # a caller holds the connection
        self._waiting = 0  # callers waiting for it
        self._group: _Group | None = None  # the open transaction
        self._conn: Connection | None = None
        self._driver: Any = None
        self._cursor: Any = None  # the driver's, for BEGIN and PRAGMA (one cursor, not one a transaction)
        self._info: dict[Any, Any] = {}  # the connection's info (what the after-commit hooks read)
        self._timeout_ms = BUSY_TIMEOUT_MS  # the connection's busy_timeout (engine.py sets it at connect)
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._submitted = 0
        self._finished = 0
        self.closed = False
        self.commits = 0  # transactions committed by this process's writer

    # ---- the connection -----------------------------------------------------------

    def _connection(self) -> tuple[Connection, Any]:
        if self._conn is None:
            conn = self.db.engine.connect()
            driver: Any = conn.connection.dbapi_connection  # (the SQLite driver's own: no adapter)
            conn.detach()  # ours for the process's life: not the pool's to count, reset or hand out
            self._conn, self._driver, self._cursor = conn, driver, driver.cursor()
            self._info = conn.info  # (memoized by SQLAlchemy: the same dict for the connection's life)
        return self._conn, self._driver

    def _take(self) -> bool:
        """Take the connection if it is free, without waiting: False if it is in use. (``acquire`` and
        ``release`` rather than ``with``: they cost half as much, and every transaction begins here.)"""
        if self.pid != os.getpid():
            self._start()
        lock = self._lock
        lock.acquire()
        try:
            if self.closed:
                raise RuntimeError("the store is closed")
            if self._busy:
                return False
            self._busy = True
            return True
        finally:
            lock.release()

    def _acquire(self, wait: bool) -> None:
        if self._take():
            return
        if not wait:
            raise WriterBusy()
        with self._lock:
            if self.closed:
                raise RuntimeError("the store is closed")
            if self._busy:
                # As long as SQLite would wait for another process's lock: a caller stuck behind a
                # block that never ends (or one that waits for this very caller) gets a busy error.
                deadline = time.monotonic() + self.busy_timeout_ms / 1000
                self._waiting += 1
                try:
                    while self._busy:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise WriterBusy("database is locked: the writer was in use past the busy timeout")
                        self._free.wait(left)
                finally:
                    self._waiting -= 1
            self._busy = True

    def _release(self) -> None:
        with self._lock:
            self._busy = False
            if self._waiting:
                self._free.notify()

    @property
    def waiting(self) -> int:
        """Callers waiting for the connection."""
        return self._waiting

    # ---- one caller's block -------------------------------------------------------

    def member(self, wait: bool = True, bare: bool = False) -> Member:
        """Run a block in the writer's transaction (see the class; ``bare``: see :class:`Member`)."""
        return Member(self, wait, bare=bare)

    def alone(self, fn: Callable[..., T], *args: Any) -> T | None:
        """``fn(*args)`` as the only block of a transaction of its own, on this thread, without waiting:
        what ``with self.member(wait=False, bare=True): fn(*args)`` does, in fewer steps (the server's
        event loop runs a lone call so). None, and nothing run, if the writer is in use (or holds a
        transaction handed over to a waiting caller) or another process holds the file's write lock.
        As a bare block, an error of a write inside ``fn``, even one it catches, fails it whole."""
        if not self._take():
            return None
        try:
            if self._group is not None:  # handed over to a caller about to write in it: not ours to take
                raise WriterBusy()
            group = self._begin(False)
        except BaseException as exc:
            self._release()
            if _busy(exc):
                return None
            raise
        uow = group.uow
        uow.bare = True
        token = CURRENT.set(uow)
        try:
            result = fn(*args)
        except BaseException:
            CURRENT.reset(token)
            uow.bare = False
            self._end(group, RuntimeError("the first block of the transaction failed"))
            raise
        CURRENT.reset(token)
        uow.bare = False
        group.members = 1
        self._end(group, None)
        if group.error is not None:
            raise _lost(group.error)
        return result

    def _begin(self, wait: bool) -> _Group:
        """The group to write in: the open one, else a new transaction (``BEGIN IMMEDIATE``)."""
        group = self._group
        if group is not None:
            if self._driver.in_transaction:
                return group
            self._end(group, _lost(), release=False)  # SQLite ended it under us (I/O error, full disk)
        conn, driver = self._connection()
        cursor = self._cursor
        timeout = self.busy_timeout_ms if wait else 0
        if timeout != self._timeout_ms:
            cursor.execute(f"PRAGMA busy_timeout={int(timeout)}")
            self._timeout_ms = timeout
        cursor.execute("BEGIN IMMEDIATE")
        group = self._group = _Group(UnitOfWork(self.db, conn, driver))
        return group

    def _end(self, group: _Group, error: BaseException | None, release: bool = True) -> None:
        """Commit ``group`` (``error`` None) or roll it back; wake the blocks waiting for it and
        (``release``) free the connection."""
        if self._group is group:
            self._group = None
        uow = group.uow
        if error is None and uow.lost:
            error = _lost()
        if error is None:
            try:
                uow.commit()
                self.commits += 1
            except BaseException as exc:
                error = exc
            else:
                hooks = self.db.after_commit
                if hooks and self._conn is not None:
                    info = self._info
                    for after in hooks:
                        after(info)
        if error is not None:
            uow.rollback()
            for hook in self.db.after_rollback:
                hook()
        lock = self._lock
        lock.acquire()  # (not ``with``: this runs for every transaction, and acquire and release cost half)
        try:
            group.done, group.error = True, error
            if group.handed:  # blocks that handed it over wait for its end
                self._ended.notify_all()
            if release:
                self._busy = False
                if self._waiting:
                    self._free.notify()
        finally:
            lock.release()

    def _finish(self, member: Member, failed: bool) -> None:
        """After a block: hand the transaction on to a waiting caller, or commit it; wait for its end."""
        group = member.group
        assert group is not None
        if member.first and failed:  # nothing else in it: roll the whole transaction back
            self._end(group, RuntimeError("the first block of the transaction failed"))
            return
        group.members += 1
        with self._lock:
            hand_over = member.wait and self._waiting > 0 and group.members < GROUP_MAX and not group.uow.lost
            if hand_over:  # the next caller writes in this transaction; the last one commits it
                group.handed = True
                self._busy = False
                self._free.notify()
                while not group.done:
                    self._ended.wait()
        if not hand_over:
            self._end(group, None)
        if group.error is not None and not failed:
            raise _lost(group.error)

    # ---- queued functions (callers that must not block) ---------------------------

    @property
    def idle(self) -> bool:
        """Nothing queued for the writer's thread, nor running there."""
        return self._submitted == self._finished

    @property
    def depth(self) -> int:
        """Functions queued for the writer's thread or running there (the server's gauge)."""
        return self._submitted - self._finished

    def submit(self, fn: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        """Queue ``fn()`` for the writer's thread; ``done(result, error)`` is called there once the
        transaction holding its writes has ended. Functions queued together share one transaction,
        each in its own savepoint; one queued alone runs ``bare`` (:class:`Member`): an error of a
        write inside it, even one it catches, fails it whole."""
        if self.pid != os.getpid():
            self._start()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="modelyard-writer", daemon=True)
                    self._thread.start()
        with self._lock:
            self._submitted += 1
        self._jobs.put((fn, done))

    def _work(self) -> None:
        jobs = self._jobs
        stopping = False
        while not stopping:
            job = jobs.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < GROUP_MAX:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            outcomes: list[tuple[Any, BaseException | None]] = []
            try:
                if len(batch) == 1:  # alone: its own block (no savepoint: a failure undoes the block)
                    with self.member(bare=True):
                        outcomes.append((batch[0][0](), None))
                else:
                    with self.member() as uow:
                        for fn, _ in batch:
                            try:
                                with Joined(uow, True):
                                    outcomes.append((fn(), None))
                            except Exception as exc:  # noqa: BLE001  (handed to whoever waits, who answers it)
                                outcomes.append((None, exc))
            except BaseException as exc:  # noqa: BLE001  (nothing of the batch was committed)
                outcomes = [(None, exc)] * len(batch)
            self._finished += len(batch)
            for (_, done), (result, error) in zip(batch, outcomes):
                done(result, error)
            del job, batch, outcomes

    # ---- closing --------------------------------------------------------------------

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued functions and end the writer's thread (a later :meth:`submit` starts another)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and self.pid == os.getpid():
            self._jobs.put(None)
            thread.join(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """:meth:`stop`, then close the connection."""
        self.stop(timeout)
        with self._lock:
            self.closed = True
            conn, self._conn = self._conn, None
            busy = self._busy
        if conn is not None and self.pid == os.getpid() and not busy:
            try:
                conn.close()
            except Exception:  # noqa: BLE001, S110  (already broken: nothing left to close)
                pass


class Member:
    """``with writer.member(wait) as uow``: one caller's block in the writer's transaction
    (``fast``: the block gets a :class:`Tx` on the connection instead, as ``db.fast_write()`` does).

    ``bare``: the caller treats any error of the block as the failure of all of it, so when the block
    opens the transaction, the writes inside it take no savepoint (:attr:`.unit.UnitOfWork.bare`:
    two statements less per write; one that fails loses the transaction). Blocks of other callers
    that join the transaction later take their savepoints as ever.
    """

    __slots__ = ("bare", "fast", "first", "group", "token", "wait", "writer")

    def __init__(self, writer: Writer, wait: bool = True, fast: bool = False, bare: bool = False) -> None:
        self.writer = writer
        self.wait = wait
        self.fast = fast
        self.bare = bare
        self.group: _Group | None = None

    def __enter__(self) -> Any:
        writer = self.writer
        writer._acquire(self.wait)
        try:
            was = writer._group
            group = self.group = writer._begin(self.wait)
            self.first = group is not was
            if not self.first:
                group.uow.driver.execute("SAVEPOINT member")
            elif self.bare:
                group.uow.bare = True
        except BaseException:
            writer._release()
            raise
        uow = group.uow
        self.token = CURRENT.set(uow)
        return Tx(uow.driver.cursor()) if self.fast else uow

    def __exit__(self, exc_type: type[BaseException] | None, exc_val: BaseException | None,
                 tb: TracebackType | None) -> None:
        CURRENT.reset(self.token)
        failed = exc_type is not None
        group = self.group
        assert group is not None
        group.uow.bare = False  # blocks handed the transaction next take savepoints
        lost: BaseException | None = None
        if not self.first:
            try:
                group.uow.savepoint_end(group.uow.driver, failed, "member")
            except BaseException as exc:  # the transaction is lost (uow.lost): the group rolls back
                failed, lost = True, exc
            if failed:
                for hook in self.writer.db.after_rollback:
                    hook()
        self.writer._finish(self, failed)
        if lost is not None:
            raise lost


def _busy(exc: BaseException) -> bool:
    """SQLite's busy or locked error (its code, as :func:`modelyard.server.failures.is_busy` reads it)."""
    code = getattr(getattr(exc, "orig", None) or exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _lost(cause: BaseException | None = None) -> sqlite3.OperationalError:
    error = UnitLost("the writer's transaction was rolled back; nothing of it was written")
    error.__cause__ = cause
    return error
