"""Instructions per span of each stage of an OTLP batch's ingest, counted apart (valgrind ``callgrind``).

``benchmarks.traces_probe count`` counts whole requests; this splits a 1,000-span post (the tracing
benchmark's: 100 traces of 10 spans) into what the server does with it, each stage in a process of its
own under callgrind, instrumentation on for the stage's calls only::

    python -m benchmarks.traces_stages                                 # this checkout
    python -m benchmarks.traces_stages --checkout /work/main           # another checkout's code
    python -m benchmarks.traces_stages --stages decode,log --calls 5
    python -m benchmarks.traces_stages --stages log --sql try.sql    # a schema change, tried before its migration

Stages: ``decode`` the protobuf body into spans (``server.otlp.decode``); ``content`` each span's stored
JSON (``Span.otel_json``); ``log`` the service's ``log_spans`` (redaction, bounds, usage, the store and the
commit; SQLite on ``/dev/shm`` with ``synchronous=NORMAL``, the fsync not counted).

The official client's trace (``benchmarks.traces_probe capture`` first: its three one-span posts and the
trace info), per trace: ``client-posts`` decodes and logs the three posts; ``client-trace`` the posts and the
info (``TraceService.start_trace`` and its answer's dict): the info alone is the difference. What the app
does around them (middleware, hot path, JSON of the info's request) is not counted here: ``traces_probe`` counts
whole requests.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SPANS = 1000
STAGES = ("decode", "content", "log", "client-posts", "client-trace")
CLIENT_TRACES = 100
SCHEMA_SQL = "TRACES_STAGES_SQL"  # the environment variable --sql passes to the counted process
UNITS = {"client-posts": 3, "client-trace": 3}  # spans a call (a trace); else SPANS


def _bodies(n: int) -> list[bytes]:
    from benchmarks.traces import otlp_batch

    rng = random.Random(18)
    return [otlp_batch([rng.randbytes(16) for _ in range(SPANS // 10)], 10,
                       1_796_000_000_000_000_000 + i * 10_000_000, rng.randbytes) for i in range(n)]


def _toggle(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True,
                   capture_output=True)


def probe(stage: str, calls: int) -> None:
    """Run ``calls`` calls of ``stage`` after a warm-up, callgrind's instrumentation on for them only."""
    from modelyard.server.otlp import decode

    if stage.startswith("client-"):
        _client(stage, calls)
        return
    bodies = _bodies(calls + 2)
    if stage == "decode":
        decode(bodies[0], "application/x-protobuf")
        _toggle(True)
        for body in bodies[2:]:
            decode(body, "application/x-protobuf")
        _toggle(False)
        return
    batches = [decode(body, "application/x-protobuf") for body in bodies]
    if stage == "content":
        for s in batches[0]:
            s.otel_json()
        _toggle(True)
        for spans in batches[2:]:
            for s in spans:
                s.otel_json()
        _toggle(False)
        return
    service = _service()
    try:
        exp = service.experiments.create("stages")
        for spans in batches[:2]:
            service.traces.log_spans(exp, spans)
        _toggle(True)
        for spans in batches[2:]:
            service.traces.log_spans(exp, spans)
        _toggle(False)
    finally:
        service.close()


def _service() -> Any:
    from modelyard.service import TrackingService
    from modelyard.settings import Settings

    folder = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    if os.environ.get(SCHEMA_SQL):  # --sql: a schema change tried on the migrated store before anything is counted
        import sqlite3

        TrackingService(Settings(backend_store_uri=f"sqlite:///{folder}/db.sqlite",
                                 default_artifact_root=f"{folder}/art", background_workers=False)).close()
        conn = sqlite3.connect(f"{folder}/db.sqlite")
        conn.executescript(Path(os.environ[SCHEMA_SQL]).read_text())
        conn.close()
    return TrackingService(Settings(
        backend_store_uri=f"sqlite:///{folder}/db.sqlite", default_artifact_root=f"{folder}/art",
        sqlite_synchronous="NORMAL", background_workers=False))


def _client(stage: str, calls: int) -> None:
    """``calls`` traces of the official client's, as ``traces_probe`` replays them (new trace ids from a seed)."""
    import json
    import pickle

    from benchmarks.traces_probe import SHAPES
    from modelyard.server.otlp import decode

    with open(SHAPES, "rb") as f:
        shapes = pickle.load(f)
    posts = [body for _, path, _, body in shapes if path == "/v1/traces"]
    info_body = next(body for _, path, _, body in shapes if path != "/v1/traces")
    old_raw = decode(posts[0], "application/x-protobuf")[0].otel_trace_id
    rng = random.Random(18)
    traces = []
    for _ in range(calls + 20):
        raw = rng.randbytes(16)
        old, new = bytes.fromhex(old_raw), raw
        traces.append(([body.replace(old, new) for body in posts],
                       info_body.replace(old_raw.encode(), new.hex().encode())))
    service = _service()
    try:
        exp = service.experiments.create("stages")

        def one(trace: tuple[list[bytes], bytes]) -> None:
            for body in trace[0]:
                service.traces.log_spans(exp, decode(body, "application/x-protobuf"))
            if stage == "client-trace":
                info = json.loads(trace[1])["trace"]["trace_info"]
                info["trace_location"]["mlflow_experiment"]["experiment_id"] = exp
                service.traces.start_trace(info).to_dict()

        for trace in traces[:20]:
            one(trace)
        _toggle(True)
        for trace in traces[20:]:
            one(trace)
        _toggle(False)
    finally:
        service.close()


def count(stage: str, calls: int, checkout: Path | None, out: Path, sql: Path | None = None) -> float:
    env = dict(os.environ)
    root = checkout or Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(root)  # the checkout's code (and its benchmarks.traces.otlp_batch)
    if sql is not None:
        env[SCHEMA_SQL] = str(sql.resolve())
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, str(Path(__file__).resolve()), "--probe", stage, "--calls", str(calls)]
    subprocess.run(argv, check=True, capture_output=True, env=env)
    totals = re.search(rb"^totals: (\d+)", out.read_bytes(), re.M)
    if totals is None:
        raise RuntimeError(f"no totals in {out}")
    return int(totals.group(1)) / calls / UNITS.get(stage, SPANS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--calls", type=int, default=3, help="1,000-span batches per stage")
    parser.add_argument("--checkout", type=Path, action="append", help="count this checkout's code (repeatable)")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files here")
    parser.add_argument("--sql", type=Path, help="SQL script run on the new (migrated) SQLite store first: a schema"
                                                 " change tried before writing its migration")
    parser.add_argument("--probe", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:  # the process under valgrind: its checkout's code first, not benchmarks/ (the script's folder)
        sys.path[0] = os.environ["PYTHONPATH"]
        probe(args.probe, args.calls)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="traces-stages-"))
    folder.mkdir(parents=True, exist_ok=True)
    checkouts: list[Path | None] = list(args.checkout or [None])
    print("| stage | " + " | ".join(str(c or "this checkout") for c in checkouts) + " |")
    print("|---|" + "---:|" * len(checkouts))
    for stage in args.stages.split(","):
        calls = CLIENT_TRACES if stage.startswith("client-") else args.calls
        per = [count(stage, calls, c, folder / f"callgrind.{stage}.{i}", args.sql) for i, c in enumerate(checkouts)]
        print(f"| {stage} (per span) | " + " | ".join(f"{p:,.0f}" for p in per) + " |", flush=True)


if __name__ == "__main__":
    main()
