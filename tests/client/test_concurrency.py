"""Concurrent writers to one run, threads and processes, lose nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import modelyard as my
from modelyard.entities import Metric, Param

WRITER = textwrap.dedent(
    """
    import sys
    import modelyard as my
    uri, run_id, worker = sys.argv[1], sys.argv[2], int(sys.argv[3])
    c = my.Client(uri)
    for batch in range(20):
        c.log_batch(run_id, [my.Metric("m", float(i), 1, worker * 100000 + batch * 50 + i) for i in range(50)])
        c.log_param(run_id, f"w{worker}_b{batch}", "v")
    """
)


def _hammer(uri: str, tmp_path) -> None:
    client = my.Client(uri)
    run_id = client.create_run(client.create_experiment("concurrency")).info.run_id
    errors: list[BaseException] = []

    def thread_worker(worker: int) -> None:
        try:
            c = my.Client(uri)
            for batch in range(20):
                c.log_batch(run_id, [Metric("m", float(i), 1, worker * 100000 + batch * 50 + i) for i in range(50)],
                            params=[Param(f"w{worker}_b{batch}", "v")])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=thread_worker, args=(w,)) for w in range(4)]
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, uri, run_id, str(w)], stderr=subprocess.PIPE)
        for w in range(4, 7)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert not errors, errors
    history = client.get_metric_history(run_id, "m")
    assert len(history) == 7 * 20 * 50
    assert len(client.get_run(run_id).data.params) == 7 * 20


def test_threads_and_processes_embedded(tmp_path):
    _hammer(str(tmp_path / "store"), tmp_path)


def test_threads_and_processes_through_server(live_server, tmp_path):
    _hammer(live_server.url, tmp_path)
