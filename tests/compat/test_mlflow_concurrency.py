"""Several threads and processes logging to one run through the server lose nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from mlflow.entities import Metric, Param

from .conftest import unique

THREADS, PER_THREAD = 8, 40
PROCESSES, BATCHES, BATCH = 3, 4, 100

_WORKER = textwrap.dedent(
    """
    import os, sys
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    url, run_id, worker, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    client = MlflowClient(url)
    for b in range(batches):
        client.log_batch(run_id, metrics=[
            Metric("proc", float(worker), 1000 * worker + b * size + i, worker * 100000 + b * size + i)
            for i in range(size)
        ] + [Metric("shared", float(b), b, b)], params=[Param(f"proc{worker}-{b}", str(b))])
    client.log_metric(run_id, "done", 1.0, step=worker)
    """
)


def test_threads_and_processes_lose_nothing(client, server):
    rid = client.create_run(client.create_experiment(unique("conc"))).info.run_id
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, server.url, rid, str(w), str(BATCHES), str(BATCH)])
        for w in range(1, PROCESSES + 1)
    ]
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(PER_THREAD):
                if i % 2:
                    client.log_metric(rid, "thread", float(t), timestamp=t * 1000 + i, step=t * 1000 + i)
                else:
                    client.log_batch(rid, metrics=[Metric("thread", float(t), t * 1000 + i, t * 1000 + i)],
                                     params=[Param(f"t{t}-{i}", "v")])
                client.set_tag(rid, f"tag{t}", str(i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for p in procs:
        assert p.wait(120) == 0
    assert errors == []

    thread_hist = client.get_metric_history(rid, "thread")
    assert len(thread_hist) == THREADS * PER_THREAD
    assert len({(m.step, m.timestamp) for m in thread_hist}) == THREADS * PER_THREAD
    proc_hist = client.get_metric_history(rid, "proc")
    assert len(proc_hist) == PROCESSES * BATCHES * BATCH
    # "shared" got identical points from every process: each stored once, as MLflow does.
    assert sorted(m.step for m in client.get_metric_history(rid, "shared")) == list(range(BATCHES))
    assert sorted(m.step for m in client.get_metric_history(rid, "done")) == list(range(1, PROCESSES + 1))
    run = client.get_run(rid)
    assert len(run.data.params) == THREADS * PER_THREAD // 2 + PROCESSES * BATCHES
    assert all(run.data.tags[f"tag{t}"] == str(PER_THREAD - 1) for t in range(THREADS))
    # The latest value is the one with the highest step.
    assert run.data.metrics["proc"] == float(PROCESSES)
    assert run.data.metrics["thread"] == float(THREADS - 1)
