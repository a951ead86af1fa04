"""Start, watch and stop the tracking servers under test.

Each peer runs from its own virtual environment under benchmarks/.venvs/,
created on first use; modelyard runs from the interpreter running the
benchmark. Every server gets a fresh store (a temp SQLite file or a new
PostgreSQL database) and is killed with its whole process group at the end.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .cpu import DatabaseBackendsCpu, settled_cpu, tree_cpu

VENVS = Path(__file__).resolve().parent.parent / ".venvs"
MLFLOW_REQUIREMENTS = ["mlflow==3.17.2", "psycopg2-binary"]
FML_REQUIREMENTS = ["fasttrackml"]
START_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0


class Unavailable(Exception):
    """A server cannot be run here (not installed, not importable)."""


def ensure_venv(name: str, requirements: list[str], python: str = "python3") -> Path:
    """Create or reuse benchmarks/.venvs/<name> with `requirements` installed."""
    venv = VENVS / name
    marker = venv / ".installed"
    want = "\n".join(requirements)
    if marker.exists() and marker.read_text() == want:
        return venv
    if not (venv / "bin" / "python").exists():
        print(f"  creating venv {venv}", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    print(f"  installing {' '.join(requirements)} into {venv}", flush=True)
    proc = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", *requirements],
        check=False, capture_output=True, text=True, timeout=1800,
    )
    if proc.returncode != 0:
        raise Unavailable(f"pip install {requirements} failed: {proc.stderr[-2000:]}")
    marker.write_text(want)
    return venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- PostgreSQL -------------------------------------------------------------


@dataclass
class PgDatabase:
    """A fresh database on the local PostgreSQL cluster, dropped on close."""

    base_url: str
    name: str = field(default_factory=lambda: f"bench_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    postmaster: int | None = None

    def url(self, scheme: str = "postgresql") -> str:
        server = self.base_url.split("://", 1)[1].split("/", 1)[0]  # user@host:port
        return f"{scheme}://{server}/{self.name}"

    def create(self) -> None:
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.postmaster = _postmaster_of(backend)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _postmaster_of(pid: int) -> int | None:
    """Walk up from a backend to the postmaster (the last 'postgres' ancestor)."""
    found = None
    for _ in range(10):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return found
        if "postgres" not in comm and found is not None:
            return found
        found = pid
        pid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        if pid <= 1:
            return found
    return found


# --- servers ----------------------------------------------------------------


@dataclass
class Server:
    """A running server: its URL, process and where its CPU time is read."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    workdir: Path
    db_pid: int | None = None  # postmaster, when the store is PostgreSQL
    db_tracker: DatabaseBackendsCpu | None = None  # our database's backends' CPU
    pg_url: str = ""  # the fresh PostgreSQL database (psycopg URL), when the store is PostgreSQL
    store_uri: str = ""
    kind: str = ""  # "modelyard" for every modelyard variant
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the server
    startup_s: float = 0.0
    idle_cpu_per_s: float = 0.0

    def cpu(self) -> float:
        """Server-tree CPU seconds, after it has gone quiet."""
        return settled_cpu([self.proc.pid])

    def db_cpu(self) -> float:
        """CPU seconds of the PostgreSQL backends serving this server's database (0 on SQLite)."""
        return self.db_tracker.total() if self.db_tracker else 0.0

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{tail(self.log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class ServerSpec:
    """How to run one kind of server."""

    name: str
    command: Callable[[str, Path, int], list[str]]  # (store_uri, artifacts, port) -> argv
    store_uri: Callable[[Path, PgDatabase | None], str]
    prepare: Callable[[], None] = lambda: None
    env: Callable[[], dict[str, str]] = dict
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    kind: str = ""  # "modelyard" for every modelyard variant (gets the SDK and big-search rows)


def _mlflow_command(store: str, artifacts: Path, port: int) -> list[str]:
    return [
        str(VENVS / "mlflow" / "bin" / "mlflow"), "server",
        "--backend-store-uri", store, "--artifacts-destination", str(artifacts),
        "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
    ]


def _fml_command(store: str, artifacts: Path, port: int) -> list[str]:
    return [
        str(VENVS / "fml" / "bin" / "fml"), "server", "--database-uri", store,
        "--default-artifact-root", str(artifacts), "--listen-address", f"127.0.0.1:{port}",
        "--log-level", "warning",
    ]


def modelyard_base_command() -> list[str]:
    """argv prefix for the modelyard CLI of the interpreter running us."""
    if importlib.util.find_spec("modelyard") is None or importlib.util.find_spec("modelyard.cli") is None:
        raise Unavailable("modelyard.cli is not importable in this interpreter")
    script = Path(sys.executable).parent / "modelyard"
    if script.exists():
        return [str(script)]
    # Same entry point as the console script (pyproject: modelyard.cli:main).
    return [sys.executable, "-c", "import sys; from modelyard.cli import main; sys.exit(main())"]


SYNC_ENV = "MODELYARD_SQLITE_SYNCHRONOUS"


def _modelyard_env(synchronous: str = "FULL") -> dict[str, str]:
    """Make the checkout importable by the server even when not pip-installed.

    The SQLite durability setting is always explicit, so a value in the caller's
    environment cannot silently change what the "modelyard" column measures.
    """
    repo = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": f"{repo}{os.pathsep}{path}" if path else repo, SYNC_ENV: synchronous}


def _modelyard_command(store: str, artifacts: Path, port: int) -> list[str]:
    return [
        *modelyard_base_command(), "server", "--backend-store-uri", store,
        "--artifacts-destination", str(artifacts), "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1",
    ]


def _sqlalchemy_uri(workdir: Path, pg: PgDatabase | None, file: str) -> str:
    return pg.url("postgresql") if pg else f"sqlite:///{workdir / file}"


SPECS: dict[str, ServerSpec] = {
    "mlflow": ServerSpec(
        "mlflow", _mlflow_command,
        # mlflow 3.17 picks the psycopg (3) dialect for postgresql://; its venv has psycopg2.
        lambda d, pg: pg.url("postgresql+psycopg2") if pg else f"sqlite:///{d / 'mlflow.db'}",
        prepare=lambda: ensure_venv("mlflow", MLFLOW_REQUIREMENTS) and None,
    ),
    "fml": ServerSpec(
        "fml", _fml_command,
        lambda d, pg: pg.url("postgres") if pg else f"sqlite://{d / 'fml.db'}",
        prepare=lambda: ensure_venv("fml", FML_REQUIREMENTS) and None,
    ),
    # modelyard's default: synchronous=FULL, every acknowledged write survives a power cut.
    "modelyard": ServerSpec(
        "modelyard", _modelyard_command,
        lambda d, pg: _sqlalchemy_uri(d, pg, "modelyard.db"),
        prepare=lambda: modelyard_base_command() and None,
        env=_modelyard_env, kind="modelyard",
    ),
    # The same server with MODELYARD_SQLITE_SYNCHRONOUS=NORMAL (WAL: durable across
    # process crashes, not power loss). A SQLite setting only: not run on PostgreSQL.
    "modelyard-normal": ServerSpec(
        "modelyard-normal", _modelyard_command,
        lambda d, pg: _sqlalchemy_uri(d, pg, "modelyard.db"),
        prepare=lambda: modelyard_base_command() and None,
        env=lambda: _modelyard_env("NORMAL"), backends=("sqlite",), kind="modelyard",
    ),
}


def wait_healthy(server: Server, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            server.alive()
            try:
                if http.get(f"{server.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"{server.name} not healthy after {timeout:.0f}s:\n{tail(server.log)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; make sure no straggler of the group lives on.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


@contextlib.contextmanager
def launch(spec: ServerSpec, backend: str, workdir: Path, pg_base: str) -> Iterator[Server]:
    """Run `spec` on a fresh store in `workdir`; yield it healthy and quiet."""
    if backend not in spec.backends:
        raise Unavailable(f"{spec.name} is not run on {backend}")
    spec.prepare()
    workdir.mkdir(parents=True, exist_ok=True)
    pg = PgDatabase(pg_base) if backend == "postgresql" else None
    proc = None
    tracker = None
    try:
        if pg:
            pg.create()
        port = free_port()
        store_uri = spec.store_uri(workdir, pg)
        argv = spec.command(store_uri, workdir / "artifacts", port)
        log = workdir / f"{spec.name}.log"
        env = spec.env()
        shown = " ".join(f"{k}={v}" for k, v in env.items() if k != "PYTHONPATH")
        print(f"  $ {shown + ' ' if shown else ''}{' '.join(argv)}", flush=True)
        t0 = time.perf_counter()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, **env},
            )
        tracker = DatabaseBackendsCpu(pg.postmaster, pg.name) if pg and pg.postmaster else None
        server = Server(spec.name, f"http://127.0.0.1:{port}", proc, log, workdir,
                        db_pid=pg.postmaster if pg else None, db_tracker=tracker,
                        store_uri=store_uri, kind=spec.kind, env=env, pg_url=pg.url() if pg else "")
        wait_healthy(server)
        server.startup_s = time.perf_counter() - t0
        # Let start-up work (imports in worker processes, migrations) finish:
        # wait for a second with under 50 ms of CPU, for at most two minutes.
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline:
            a = tree_cpu(proc.pid)
            time.sleep(1.0)
            if tree_cpu(proc.pid) - a < 0.05:
                break
        a = tree_cpu(proc.pid)
        time.sleep(2.0)
        server.idle_cpu_per_s = (tree_cpu(proc.pid) - a) / 2.0
        yield server
    finally:
        if proc is not None:
            stop(proc)
        if tracker is not None:
            tracker.close()
        if pg:
            with contextlib.suppress(Exception):
                pg.drop()


def launch_modelyard(store_uri: str, workdir: Path, *, checkout: Path | None = None,
                     admin: tuple[str, str] | None = None, log: str = "server.log",
                     timeout: float = 120.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start one ``modelyard server`` (one worker, SQLite ``synchronous=FULL``, as the benchmark's "modelyard"
    column) on ``store_uri`` in ``workdir``; return it healthy, with its URL. Stop it with :func:`stop`.

    ``checkout``: a modelyard checkout whose code runs first on PYTHONPATH (default: this one).
    ``admin``: ``(username, password)`` of the admin account: the server runs with ``--auth``.
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [*modelyard_base_command(), "server", "--backend-store-uri", store_uri, "--artifacts-destination",
            str(workdir / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {**os.environ, **_modelyard_env()}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    if admin is not None:
        argv.append("--auth")
        env.update(MODELYARD_AUTH_ADMIN_USERNAME=admin[0], MODELYARD_AUTH_ADMIN_PASSWORD=admin[1])
    with open(workdir / log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"modelyard server did not start:\n{tail(workdir / log)}")


def cpu_per_call(pid: int, work: Callable[[int], object], calls: int, start_at: int = 0) -> float:
    """Server CPU milliseconds per call (the tree of ``pid``, settled) of ``work(i)`` for ``calls`` values of i
    from ``start_at``, one after the other."""
    before = settled_cpu([pid])
    for i in range(start_at, start_at + calls):
        work(i)
    return (settled_cpu([pid]) - before) * 1000 / calls


def analyze(server: Server) -> None:
    """``ANALYZE`` the server's PostgreSQL database (nothing on SQLite).

    A deployed database has the statistics autovacuum gathers; a database
    filled seconds ago has none yet (autovacuum analyzes it only minutes later),
    and PostgreSQL plans blind without them. Every server gets this after
    each seeding, outside the measured spans.
    """
    if not server.pg_url:
        return
    import psycopg

    with psycopg.connect(server.pg_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("ANALYZE")


def clean(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
