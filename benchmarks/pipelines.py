"""Per-step overhead of pipelines: modelyard vs Prefect 3, side by side in one run.

    python -m benchmarks.pipelines                          # 100 and 1000 no-op steps, all tools
    python -m benchmarks.pipelines --steps 100 --repeat 3 --only modelyard,prefect
    python -m benchmarks.pipelines --only prefect-server    # Prefect against `prefect server start`

Every step/task is a no-op that really runs (each call gets the run's salt, so no
cache hit), tracking on. Two clocks per flow of N steps:

* **return**: until the flow/pipeline call returns;
* **recorded**: until the flow has returned *and* every step/task run is recorded
  in the tool's own store in a terminal state, confirmed by reading it back.
  modelyard commits a pipeline's nested step runs before ``run()`` returns (one
  read-back of the pipeline run confirms it). Prefect 3 records task runs
  asynchronously, as events its API turns into task-run rows: the clock stops when
  ``read_task_runs`` (filtered by the flow run, COMPLETED) sees the N-th task run
  and the flow run is COMPLETED (polled every 2% of the time elapsed, 20 ms to 1 s, so
  the polls add little load; bounded by ``--record-timeout``); then every task run is
  read back, untimed, to check it.

Per-step overhead = (time of a flow of N steps - time of a flow of 0 steps) / N, best
of ``--repeat``; **cpu** is the same difference in CPU time (user+sys, from /proc) of
the whole process tree doing the work: modelyard's process and its workers; Prefect's
flow process, the local API server it starts (a child) or the ``prefect server start``
process. CPU time is the steadier figure on a shared machine.

modelyard runs in this interpreter on a fresh embedded store (SQLite, a pipeline run
plus one nested run per step), with the inline executor (in process) and the process
executor. Prefect runs in its own environment, ``benchmarks/.venvs/prefect`` (created on
first use with ``prefect==PREFECT_VERSION`` and ``fastapi==FASTAPI_VERSION``), with its
default settings (logging included) but for analytics off, a 180 s wait for the first start of
its local API, and no UI for ``prefect server start`` (it needs the newer fastapi): ``prefect`` =
the ephemeral local API it starts itself (no PREFECT_API_URL), ``prefect-server`` = a
``prefect server start`` process started here (the usual deployment). Both calling tasks directly (``noop(i, salt)``, run at once in the
flow's thread) and submitting them (``noop.submit(i, salt)``, futures, which is what a
modelyard step call is). Each tool runs warm-up flows first.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

PREFECT_VERSION = "3.8.8"
# prefect 3.8.8 asks for fastapi>=0.139, whose Body() no longer takes min_items, which prefect's own
# server still passes: its local API only starts with an older fastapi (pip warns; it works).
FASTAPI_VERSION = "0.115.14"
HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venvs", "prefect")

def tree_cpu(roots):
    """CPU seconds (user+sys) of the processes ``roots`` and their live descendants, from /proc."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    parents, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(name)] = int(fields[1])
        cpu[int(name)] = (int(fields[11]) + int(fields[12])) / tick
    wanted, frontier = set(roots), list(roots)
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in wanted:
                wanted.add(child)
                frontier.append(child)
    return sum(cpu.get(pid, 0.0) for pid in wanted)


PREFECT_SCRIPT = inspect.getsource(tree_cpu) + textwrap.dedent('''
    import json, os, sys, time
    from prefect import flow, task, get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterId, TaskRunFilter,
        TaskRunFilterState, TaskRunFilterStateType)
    from prefect.client.schemas.objects import StateType

    @task
    def noop(i, salt):
        return None

    @flow
    def many(n, salt):
        for i in range(n):
            noop(i, salt)

    @flow
    def many_submitted(n, salt):
        futures = [noop.submit(i, salt) for i in range(n)]
        for f in futures:
            f.result()

    steps = [int(s) for s in sys.argv[1].split(",")]
    repeat, limit = int(sys.argv[2]), float(sys.argv[3])
    roots = [os.getpid()] + [int(p) for p in os.environ.get("BENCH_EXTRA_PIDS", "").split(",") if p]
    completed = TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.COMPLETED])))

    def recorded(client, run_id, n):
        """Whether the flow run is COMPLETED and its N-th COMPLETED task run is readable."""
        if not client.read_flow_run(run_id).state.is_completed():
            return False
        if n == 0:
            return True
        runs = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        return len(client.read_task_runs(flow_run_filter=runs, task_run_filter=completed, limit=1, offset=n - 1)) == 1

    def all_recorded(client, run_id, n):
        """Every task run of the flow run, read back page by page (untimed check)."""
        runs, seen, offset = FlowRunFilter(id=FlowRunFilterId(any_=[run_id])), {}, 0
        while True:
            page = client.read_task_runs(flow_run_filter=runs, limit=200, offset=offset)
            seen.update((str(t.id), t.state_type) for t in page)
            if len(page) < 200:
                return len(seen) == n and all(s == StateType.COMPLETED for s in seen.values())
            offset += 200

    def one(client, fn, n, salt):
        c0, t0 = tree_cpu(roots), time.perf_counter()
        state = fn(n, salt, return_state=True)
        t_return = time.perf_counter() - t0
        assert state.is_completed(), state
        run_id = state.state_details.flow_run_id
        while not recorded(client, run_id, n):
            elapsed = time.perf_counter() - t0
            if elapsed > limit:
                return {"return": t_return, "recorded": None, "cpu": None}
            time.sleep(min(1.0, max(0.02, elapsed / 50)))  # few polls (they load the API too); ~2% resolution
        t_rec, cpu = time.perf_counter() - t0, tree_cpu(roots) - c0
        assert all_recorded(client, run_id, n), f"flow run {run_id}: task runs missing or not COMPLETED"
        return {"return": t_return, "recorded": t_rec, "cpu": cpu}

    with get_client(sync_client=True) as client:
        many(1, "warm")  # the first flow starts the local API when there is no PREFECT_API_URL
        many_submitted(1, "warm")
        out = {}
        for name, fn in (("call", many), ("submit", many_submitted)):
            found = {n: [] for n in [0] + steps}
            for r in range(repeat):
                for n in [0] + steps:
                    found[n].append(one(client, fn, n, f"{name}-{n}-{r}"))
            out[name] = found
    print("RESULT " + json.dumps(out))
''')


# ---- modelyard ------------------------------------------------------------------------------------------


def _modelyard(steps: list[int], repeat: int, executor: str) -> dict[int, list[dict[str, float | None]]]:
    import modelyard as my
    from modelyard.pipelines import pipeline, step

    @step
    def noop(i: int, salt: str) -> None:
        return None

    @pipeline(name=f"bench_{executor}")
    def many(n: int, salt: str):
        for i in range(n):
            noop(i, salt)

    roots = [os.getpid()]
    with tempfile.TemporaryDirectory() as tmp:
        uri = os.path.join(tmp, "store")
        my.set_tracking_uri(uri)
        client = my.Client(uri)
        try:
            many.run({"n": 2, "salt": "warm"}, executor=executor)
            found: dict[int, list[dict[str, float | None]]] = {n: [] for n in [0, *steps]}
            for r in range(repeat):
                for n in [0, *steps]:
                    c0, t0 = tree_cpu(roots), time.perf_counter()
                    run = many.run({"n": n, "salt": f"{n}-{r}"}, executor=executor)  # a new salt: every step runs
                    t_return = time.perf_counter() - t0
                    record = client.get_pipeline_run(run.run_id)  # committed already: one read confirms it
                    ok = len(record.steps) == n and all(s.status == "FINISHED" for s in record.steps)
                    t_rec, cpu = time.perf_counter() - t0, tree_cpu(roots) - c0
                    experiment = client.get_run(run.run_id).info.experiment_id  # untimed: every nested run is there
                    nested = client.search_runs(
                        [experiment], f"tags.mlflow.parentRunId = '{run.run_id}' and attributes.status = 'FINISHED'",
                        max_results=max(n, 1),
                    ).items if n else []
                    if not ok or len(nested) != n:
                        raise AssertionError(f"modelyard pipeline run {run.run_id}: step runs missing")
                    found[n].append({"return": t_return, "recorded": t_rec, "cpu": cpu})
            return found
        finally:
            my.set_tracking_uri(None)


# ---- Prefect ----------------------------------------------------------------------------------------------


def _ensure_prefect() -> str:
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"prefect=={PREFECT_VERSION}"], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"fastapi=={FASTAPI_VERSION}"], check=True)
    return python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prefect(
    steps: list[int], repeat: int, limit: float, server: bool, settings: dict[str, str] | None = None
) -> dict[str, dict[int, list[dict]]]:
    python = _ensure_prefect()
    with tempfile.TemporaryDirectory() as home:
        # Defaults, but for: no analytics, and a longer wait for the first start of the local API (it
        # creates its database; on 2 busy cores that takes more than its default 20 s).
        env = {**os.environ, "PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", **(settings or {})}
        env.pop("PREFECT_API_URL", None)
        proc = None
        try:
            if server:
                port = _free_port()
                log = open(os.path.join(home, "server.log"), "w")  # noqa: SIM115 (closed with the folder)
                proc = subprocess.Popen(
                    [os.path.join(VENV, "bin", "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    # Its UI needs the newer fastapi its local API cannot start with; the API is the same.
                    env={**env, "PREFECT_UI_ENABLED": "false"}, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                url = f"http://127.0.0.1:{port}/api"
                deadline = time.time() + 120
                while True:
                    try:
                        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                            if resp.status == 200:
                                break
                    except OSError:
                        pass
                    if proc.poll() is not None or time.time() > deadline:
                        with open(os.path.join(home, "server.log")) as fh:
                            raise RuntimeError(f"prefect server start did not come up:\n{fh.read()[-3000:]}")
                    time.sleep(0.5)
                env["PREFECT_API_URL"] = url
                env["BENCH_EXTRA_PIDS"] = str(proc.pid)
            out = subprocess.run(
                [python, "-c", PREFECT_SCRIPT, ",".join(map(str, steps)), str(repeat), str(limit)],
                check=False, env=env, capture_output=True, text=True, timeout=7200,
            )
            if out.returncode != 0:
                raise RuntimeError(f"the Prefect run failed (exit code {out.returncode}):\n{out.stderr[-3000:]}")
        finally:
            if proc is not None:
                if proc.poll() is None:
                    os.killpg(proc.pid, 15)
                proc.wait(30)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    found = json.loads(line[len("RESULT "):])
    return {mode: {int(k): v for k, v in by_n.items()} for mode, by_n in found.items()}


# ---- report ----------------------------------------------------------------------------------------------------


def _best(samples: list[dict], key: str) -> float | None:
    values = [s[key] for s in samples if s[key] is not None]
    return min(values) if len(values) == len(samples) else None


def _per_step(found: dict[int, list[dict]], n: int, key: str) -> float | None:
    zero, many = _best(found[0], key), _best(found[n], key)
    return None if zero is None or many is None else (many - zero) / n * 1000


def _fmt(value: float | None, width: int, digits: int = 3) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="100,1000", help="comma-separated flow sizes (default 100,1000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="modelyard,prefect,prefect-server",
                        help="comma-separated: modelyard, prefect (ephemeral local API), prefect-server")
    parser.add_argument("--record-timeout", type=float, default=300.0,
                        help="seconds to wait for a flow's task runs to be recorded (Prefect)")
    parser.add_argument("--prefect-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Prefect setting for a variant run (e.g. PREFECT_LOGGING_TO_API_ENABLED=false)")
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.prefect_setting)
    steps = [int(s) for s in args.steps.split(",")]
    only = set(args.only.split(","))
    results: list[tuple[str, dict[int, list[dict]]]] = []
    if "modelyard" in only:
        for executor in ("inline", "process"):
            results.append((f"modelyard {executor}", _modelyard(steps, args.repeat, executor)))
    for label, server in (("prefect", False), ("prefect-server", True)):
        if label in only:
            where = "server" if server else "local API"
            try:
                found_by_mode = _prefect(steps, args.repeat, args.record_timeout, server, settings)
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:  # keep the other figures
                print(f"{label}: failed: {exc}", file=sys.stderr)
                continue
            for mode, found in found_by_mode.items():
                results.append((f"prefect {mode} ({where})", found))
    print(f"no-op steps, best of {args.repeat}; load average {os.getloadavg()[0]:.2f}; "
          f"per step = (flow of N - flow of 0) / N" + (f"; Prefect settings {settings}" if settings else ""))
    print(f"{'tool':<28} {'N':>5} {'0: ret s':>9} {'N: ret s':>9} {'N: rec s':>9} "
          f"{'ret ms/step':>12} {'rec ms/step':>12} {'cpu ms/step':>12}")
    per: dict[tuple[str, int], dict[str, float | None]] = {}
    for name, found in results:
        for n in steps:
            row = {key: _per_step(found, n, key) for key in ("return", "recorded", "cpu")}
            per[(name, n)] = row
            print(f"{name:<28} {n:>5} {_fmt(_best(found[0], 'return'), 9)} {_fmt(_best(found[n], 'return'), 9)} "
                  f"{_fmt(_best(found[n], 'recorded'), 9)} {_fmt(row['return'], 12)} {_fmt(row['recorded'], 12)} "
                  f"{_fmt(row['cpu'], 12)}")
    for n in steps:
        for ours in ("modelyard inline", "modelyard process"):
            for name, _ in results:
                if not name.startswith("prefect") or (ours, n) not in per:
                    continue
                ratios = []
                for key in ("return", "recorded", "cpu"):
                    a, b = per[(name, n)][key], per[(ours, n)][key]
                    ratios.append("n/a" if a is None or b is None or b <= 0 else f"{a / b:.1f}x")
                print(f"N={n}: {name} / {ours} per step: return {ratios[0]}, recorded {ratios[1]}, cpu {ratios[2]}")
    return 0


if __name__ == "__main__":
    if not __package__:
        sys.path.insert(0, os.path.dirname(HERE))
    sys.exit(main())
