"""Every SDK method that answers a page answers a ``PagedList``: a ``list`` with a ``token``, as MLflow's.

Driven in process (SQLite and PostgreSQL) and over HTTP to a live server, with
more items than a page holds so the token is exercised too.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modelyard.client import Client
from modelyard.entities import Metric, PagedList


@pytest.fixture(params=["in-process", "http"])
def client(request: pytest.FixtureRequest, db_uri: str, tmp_path, monkeypatch) -> Iterator[Client]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELYARD_ARTIFACTS_DESTINATION", str(tmp_path / "artifacts"))
    # Webhooks below point at a closed port on 127.0.0.1 (never a host outside the machine).
    monkeypatch.setenv("MODELYARD_WEBHOOK_ALLOW_PRIVATE_HOSTS", "true")
    if request.param == "http":
        from tests.conftest import LiveServer

        server = LiveServer(db_uri, str(tmp_path / "artifacts"))
        c = Client(server.url)
        yield c
        c.close()
        server.stop()
    else:
        c = Client(db_uri)
        yield c
        c.close()


def _assert_paged(first: Any, fetch_next: Callable[[str], Any], expected: int) -> list[Any]:
    """``first`` is a PagedList of 2 with a token; following tokens gives ``expected`` items in all."""
    assert isinstance(first, PagedList) and isinstance(first, list)
    assert len(first) == 2 and first.token and first.next_page_token == first.token
    assert first.items == list(first) and first.to_list() == list(first)
    seen = [item for item in first]  # iterable, as MLflow's
    token = first.token
    for _ in range(expected):
        page = fetch_next(token)
        assert isinstance(page, PagedList)
        seen.extend(page)
        token = page.token
        if not token:
            break
    assert token is None and len(seen) == expected
    return seen


def test_every_paged_method_answers_an_iterable_sized_list(client: Client) -> None:
    exp_ids = [client.create_experiment(f"paged-{uuid.uuid4().hex[:8]}") for _ in range(3)]
    exps = _assert_paged(client.search_experiments(max_results=2),
                         lambda t: client.search_experiments(max_results=2, page_token=t), 4)  # with Default
    assert set(exp_ids) <= {e.experiment_id for e in exps}
    everything = client.search_experiments()  # all pages, still a PagedList (as MlflowClient's)
    assert isinstance(everything, PagedList) and everything.token is None and len(everything) == 4

    runs = [client.create_run(exp_ids[0]) for _ in range(3)]
    found = _assert_paged(client.search_runs(exp_ids[0], max_results=2),
                          lambda t: client.search_runs(exp_ids[0], max_results=2, page_token=t), 3)
    assert {r.info.run_id for r in found} == {r.info.run_id for r in runs}
    assert len(list(client.search_runs([exp_ids[0]]))) == 3
    for run in client.search_runs(exp_ids[0]):  # the example
        assert run.info.experiment_id == exp_ids[0]

    client.log_batch(runs[0].info.run_id, [Metric("loss", float(i), 0, i) for i in range(5)])
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "loss")] == list(range(5))

    names = [f"paged-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for name in names:
        client.create_registered_model(name)
        client.create_model_version(name, f"runs:/{runs[0].info.run_id}/model", run_id=runs[0].info.run_id)
    _assert_paged(client.search_registered_models(max_results=2),
                  lambda t: client.search_registered_models(max_results=2, page_token=t), 3)
    _assert_paged(client.search_model_versions(max_results=2),
                  lambda t: client.search_model_versions(max_results=2, page_token=t), 3)

    for i in range(3):
        client.create_logged_model(exp_ids[1], name=f"m{i}")
    _assert_paged(client.search_logged_models(exp_ids[1], max_results=2),
                  lambda t: client.search_logged_models(exp_ids[1], max_results=2, page_token=t), 3)

    hooks = [client.create_webhook(f"hook-{i}", "http://127.0.0.1:9/hook", ["registered_model.created"])
             for i in range(3)]
    _assert_paged(client.list_webhooks(max_results=2), lambda t: client.list_webhooks(max_results=2, page_token=t), 3)
    deliveries = client.list_webhook_deliveries(hooks[0].webhook_id)
    assert isinstance(deliveries, PagedList) and len(deliveries) == len(list(deliveries))

    for i in range(3):
        client.record_pipeline({"pipeline_run": {"run_uuid": uuid.uuid4().hex, "pipeline": "paged",
                                                 "status": "FINISHED", "start_time": 1000 + i, "end_time": 2000}})
    _assert_paged(client.search_pipeline_runs("paged", max_results=2),
                  lambda t: client.search_pipeline_runs("paged", max_results=2, page_token=t), 3)


def test_paged_list_keeps_its_token_through_copies() -> None:
    page = PagedList(["a", "b"], "next")
    again = pickle.loads(pickle.dumps(page))
    assert again == ["a", "b"] and again.token == "next"
    assert PagedList([1], next_page_token="t").token == "t"  # the older keyword still works
    assert PagedList([]).token is None and not PagedList([])
    assert repr(page) == "PagedList(['a', 'b'], token='next')"
