"""Per-step overhead of pipelines: modelyard vs Prefect 3, side by side in one run.

    python -m benchmarks.pipelines                 # 100 no-op steps, both tools
    python -m benchmarks.pipelines --steps 200 --repeat 5 --only modelyard

modelyard runs in this interpreter on a fresh embedded store (SQLite, tracking
on: a pipeline run plus one nested run per step, recorded in batches), with the
inline executor (in process) and the process executor. Prefect runs in its own
environment, ``benchmarks/.venvs/prefect`` (created on first use with
``prefect==PREFECT_VERSION`` and ``fastapi==FASTAPI_VERSION``), against the local API it starts itself. Each tool
runs a warm-up flow first; Prefect both calling tasks directly (``noop(i)``, run
at once in the flow's thread) and submitting them (``noop.submit(i)``, futures, which
is what a modelyard step call is); per-step overhead = (time of a flow of N no-op steps
- time of a flow of 0 steps) / N, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

PREFECT_VERSION = "3.8.8"
# prefect 3.8.8 asks for fastapi>=0.139, whose Body() no longer takes min_items, which prefect's own
# server still passes: its local API only starts with an older fastapi (pip warns; it works).
FASTAPI_VERSION = "0.115.14"
HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venvs", "prefect")

PREFECT_SCRIPT = textwrap.dedent('''
    import json, sys, time
    from prefect import flow, task

    @task
    def noop(i):
        return None

    @flow
    def many(n):
        for i in range(n):
            noop(i)

    @flow
    def many_submitted(n):
        futures = [noop.submit(i) for i in range(n)]
        for f in futures:
            f.result()

    steps, repeat = int(sys.argv[1]), int(sys.argv[2])
    many(1)  # warm-up: starts the local API
    many_submitted(1)
    out = {}
    for name, fn in (("call", many), ("submit", many_submitted)):
        best = {}
        for n in (0, steps):
            times = []
            for _ in range(repeat):
                t = time.perf_counter(); fn(n); times.append(time.perf_counter() - t)
            best[n] = min(times)
        out[name] = best
    print(json.dumps(out))
''')


def _modelyard(steps: int, repeat: int, executor: str) -> dict[int, float]:
    import modelyard as my
    from modelyard.pipelines import pipeline, step

    @step
    def noop(i: int) -> None:
        return None

    @pipeline(name=f"bench_{executor}")
    def many(n: int, salt: str):
        for i in range(n):
            noop(i)

    with tempfile.TemporaryDirectory() as tmp:
        my.set_tracking_uri(os.path.join(tmp, "store"))
        try:
            many.run({"n": 2, "salt": "warm"}, executor=executor)
            best: dict[int, float] = {}
            for n in (0, steps):
                times = []
                for r in range(repeat):
                    t = time.perf_counter()
                    many.run({"n": n, "salt": f"{n}-{r}"}, executor=executor)  # a new salt: cache misses
                    times.append(time.perf_counter() - t)
                best[n] = min(times)
            return best
        finally:
            my.set_tracking_uri(None)


def _ensure_prefect() -> str:
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"prefect=={PREFECT_VERSION}"], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"fastapi=={FASTAPI_VERSION}"], check=True)
    return python


def _prefect(steps: int, repeat: int) -> dict[str, dict[int, float]]:
    python = _ensure_prefect()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PREFECT_HOME": home, "PREFECT_LOGGING_LEVEL": "ERROR",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        env.pop("PREFECT_API_URL", None)
        out = subprocess.run([python, "-c", PREFECT_SCRIPT, str(steps), str(repeat)], env=env, check=True,
                             capture_output=True, text=True, timeout=1800)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return {mode: {int(k): v for k, v in best.items()} for mode, best in found.items()}


def _per_step(best: dict[int, float], steps: int) -> float:
    return (best[steps] - best[0]) / steps * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="modelyard,prefect", help="comma-separated: modelyard, prefect")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    rows = []
    if "modelyard" in only:
        for executor in ("inline", "process"):
            best = _modelyard(args.steps, args.repeat, executor)
            rows.append((f"modelyard ({executor})", best, _per_step(best, args.steps)))
    if "prefect" in only:
        for mode, best in _prefect(args.steps, args.repeat).items():
            rows.append((f"prefect {PREFECT_VERSION} ({mode})", best, _per_step(best, args.steps)))
    print(f"{args.steps} no-op steps, best of {args.repeat}")
    print(f"{'tool':<24} {'0 steps s':>10} {f'{args.steps} steps s':>12} {'per step ms':>12}")
    for name, best, per in rows:
        print(f"{name:<24} {best[0]:>10.3f} {best[args.steps]:>12.3f} {per:>12.3f}")
    by = {name: per for name, _, per in rows}
    inline = by.get("modelyard (inline)")
    for mode in ("call", "submit"):
        prefect = by.get(f"prefect {PREFECT_VERSION} ({mode})")
        if inline and prefect:
            print(f"prefect ({mode}) / modelyard (inline) per step: {prefect / inline:.1f}x")
    return 0


if __name__ == "__main__":
    if not __package__:
        sys.path.insert(0, os.path.dirname(HERE))
    sys.exit(main())
