"""Webhooks in the service: MLflow's rules, the transactional outbox, signed delivery, retries, claims."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select

from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.service import TrackingService
from modelyard.store import webhooks_schema as w
from modelyard.store.webhooks import enqueue_event

from .conftest import SECRET, Receiver


class Clock:
    """A hand-moved clock, starting a little after the real one (events are stamped with real time)."""

    def __init__(self) -> None:
        self.now = int(time.time() * 1000) + 1000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def svc(service: TrackingService) -> TrackingService:
    service.webhooks.embedded_delivery = False  # these tests drive delivery themselves
    return service


def _version(svc: TrackingService, name: str) -> str:
    if not svc.registry.search_registered_models(f"name = '{name}'").items:
        svc.registry.create_registered_model(name)
    run_id = svc.runs.create("0", "me", None, {}, "r").info.run_id
    return svc.registry.create_model_version(name, f"runs:/{run_id}/model", run_id).version


def _outbox(svc: TrackingService) -> int:
    with svc.store.db.read() as conn:
        return conn.execute(select(func.count()).select_from(w.webhook_deliveries)).scalar_one()


def test_crud_and_mlflow_rules(svc):
    hooks = svc.webhooks
    hook = hooks.create_webhook("ci-hook", "https://example.com/x", ["model_version.created"], "d", "sec")
    assert (hook.name, hook.status, hook.events, hook.description) == ("ci-hook", "ACTIVE", ["model_version.created"], "d")
    assert "secret" not in hook.to_dict() and "sec" not in json.dumps(hook.to_dict())
    assert hook.to_dict()["events"] == [{"entity": "MODEL_VERSION", "action": "CREATED"}]
    updated = hooks.update_webhook(hook.webhook_id, events=["model_version.stage_changed"], status="DISABLED")
    assert (updated.events, updated.status, updated.name) == (["model_version.stage_changed"], "DISABLED", "ci-hook")
    assert updated.to_dict()["events"] == [] and updated.to_dict()["event_names"] == ["model_version.stage_changed"]
    assert [h.webhook_id for h in hooks.list_webhooks().items] == [hook.webhook_id]
    assert hooks.list_webhooks(mlflow_only=True).items == []
    for bad in ({"name": "-bad"}, {"url": "ftp://x"}, {"events": []}, {"events": ["model.exploded"]},
                {"status": "ON"}):
        args = {"name": "ok", "url": "http://x", "events": ["model_version.created"], **bad}
        with pytest.raises(InvalidParameterValue):
            hooks.create_webhook(**args)
    with pytest.raises(InvalidParameterValue, match="between 1 and 1000"):
        hooks.list_webhooks(max_results=1001)
    hooks.delete_webhook(hook.webhook_id)
    with pytest.raises(ResourceDoesNotExist, match=f"Webhook with ID {hook.webhook_id} not found"):
        hooks.get_webhook(hook.webhook_id)
    assert hooks.deliveries(hook.webhook_id).items == []  # history outlives the webhook


def test_paging(svc):
    ids = [svc.webhooks.create_webhook(f"h{i}", "http://x", ["model_version.created"]).webhook_id for i in range(5)]
    first = svc.webhooks.list_webhooks(max_results=3)
    rest = svc.webhooks.list_webhooks(max_results=3, page_token=first.next_page_token)
    assert rest.next_page_token is None
    assert sorted(h.webhook_id for h in first.items + rest.items) == sorted(ids)


def test_events_enter_outbox_only_with_their_change(svc, receiver: Receiver):
    svc.webhooks.create_webhook("all", receiver.url, ["registered_model.created", "model_version.created"])
    svc.webhooks.create_webhook("off", receiver.url, ["registered_model.created"], status="DISABLED")
    svc.registry.create_registered_model("m")
    assert _outbox(svc) == 1  # the disabled webhook gets nothing
    with pytest.raises(ResourceDoesNotExist):
        svc.registry.create_model_version("missing", "runs:/x/model", "x")
    with pytest.raises(RuntimeError), svc.store.db.write() as conn:
        assert enqueue_event(conn, "model_version.created", {"name": "m"}, 1) == 1
        raise RuntimeError("the change fails after its event was written")
    assert _outbox(svc) == 1


def test_signed_delivery_of_each_event(svc, receiver: Receiver):
    events = ["registered_model.created", "model_version.created", "model_version_tag.set",
              "model_version_tag.deleted", "model_version_alias.created", "model_version_alias.deleted",
              "model_version.stage_changed"]
    hook = svc.webhooks.create_webhook("all", receiver.url, events, secret=SECRET)
    version = _version(svc, "fraud")
    reg = svc.registry
    reg.set_model_version_tag("fraud", version, "k", "v")
    reg.delete_model_version_tag("fraud", version, "k")
    reg.set_registered_model_alias("fraud", "champion", version)
    reg.delete_registered_model_alias("fraud", "champion")
    reg.transition_model_version_stage("fraud", version, "Staging")
    assert svc.webhooks.deliver_due() == 7
    got = receiver.received
    assert [d.event for d in got] == events
    assert all(d.signature_ok() for d in got)
    assert got[1].json["data"] == {"name": "fraud", "workspace": "default", "version": "1",
                                   "source": got[1].json["data"]["source"], "run_id": got[1].json["data"]["run_id"],
                                   "tags": {}, "description": None}
    assert got[4].json["data"] == {"name": "fraud", "workspace": "default", "alias": "champion", "version": "1"}
    assert got[6].json["data"] == {"name": "fraud", "workspace": "default", "version": "1", "from_stage": "None",
                                   "to_stage": "Staging"}
    history = svc.webhooks.deliveries(hook.webhook_id).items
    assert [d.status for d in history] == ["delivered"] * 7 and history[0].event == "model_version.stage_changed"
    assert {d.delivery_id for d in history} == {d.headers["x-mlflow-delivery-id"] for d in got}


def test_retry_with_backoff_then_delivered_once(svc, receiver: Receiver):
    clock = Clock()
    svc.webhooks.clock = clock
    hook = svc.webhooks.create_webhook("flaky", receiver.url, ["registered_model.created"], secret=SECRET)
    receiver.statuses = [500, 503]
    svc.registry.create_registered_model("m")
    assert svc.webhooks.deliver_due() == 1  # 500
    assert svc.webhooks.deliver_due() == 0  # not due yet
    clock.now += svc.webhooks.backoff_ms
    assert svc.webhooks.deliver_due() == 1  # 503
    clock.now += svc.webhooks.backoff_ms  # the second wait is twice as long
    assert svc.webhooks.deliver_due() == 0
    clock.now += svc.webhooks.backoff_ms
    assert svc.webhooks.deliver_due() == 1  # 200
    clock.now += 3_600_000
    assert svc.webhooks.deliver_due() == 0
    assert len(receiver.received) == 3 and all(d.signature_ok() for d in receiver.received)
    assert len({d.headers["x-mlflow-delivery-id"] for d in receiver.received}) == 1
    [delivery] = svc.webhooks.deliveries(hook.webhook_id).items
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)


def test_client_errors_fail_at_once_and_retries_are_bounded(svc, receiver: Receiver):
    clock = Clock()
    svc.webhooks.clock, svc.webhooks.max_attempts = clock, 3
    hook = svc.webhooks.create_webhook("h", receiver.url, ["registered_model.created"])
    receiver.statuses = [404, 500, 500, 500]
    svc.registry.create_registered_model("a")
    assert svc.webhooks.deliver_due() == 1
    svc.registry.create_registered_model("b")
    for _ in range(5):
        svc.webhooks.deliver_due()
        clock.now += 60_000
    failed = svc.webhooks.deliveries(hook.webhook_id).items
    assert [(d.status, d.attempts, d.response_status) for d in failed] == [("failed", 3, 500), ("failed", 1, 404)]
    assert len(receiver.received) == 4


def test_unreachable_receiver_is_retried(svc):
    clock = Clock()
    svc.webhooks.clock, svc.webhooks.timeout = clock, 2.0
    hook = svc.webhooks.create_webhook("h", "http://127.0.0.1:9/nothing", ["registered_model.created"])
    svc.registry.create_registered_model("m")
    assert svc.webhooks.deliver_due() == 1
    [d] = svc.webhooks.deliveries(hook.webhook_id).items
    assert d.status == "pending" and d.attempts == 1 and d.error and "Connect" in d.error
    assert d.next_attempt_timestamp == clock.now + svc.webhooks.backoff_ms


def test_concurrent_deliverers_send_each_event_once(svc, receiver: Receiver, db_uri):
    svc.webhooks.create_webhook("h", receiver.url, ["model_version.created"], secret=SECRET)
    for _ in range(20):
        _version(svc, "m")
    others = [TrackingService(svc.settings) for _ in range(2)]
    services = [svc, *others]
    for s in others:
        s.webhooks.embedded_delivery = False
    barrier = threading.Barrier(6)

    def drain(s: TrackingService) -> None:
        barrier.wait(10)
        for _ in range(50):
            if not s.webhooks.deliver_due(limit=3) and s.webhooks.seconds_until_due() is None:
                return

    threads = [threading.Thread(target=drain, args=(services[i % 3],)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in others:
            s.close()
    versions = sorted(int(d.json["data"]["version"]) for d in receiver.received)
    assert versions == list(range(1, 21))


def test_embedded_thread_delivers_without_a_server(service: TrackingService, receiver: Receiver):
    service.webhooks.create_webhook("h", receiver.url, ["model_version_alias.created"], secret=SECRET)
    version = _version(service, "m")
    service.registry.set_registered_model_alias("m", "champion", version)
    [got] = receiver.wait_for(1, timeout=15)
    assert got.signature_ok() and got.json["data"]["alias"] == "champion"
    service.webhooks.close()


def test_test_webhook(svc, receiver: Receiver):
    hook = svc.webhooks.create_webhook("h", receiver.url, ["model_version_alias.created"], secret=SECRET)
    result = svc.webhooks.test_webhook(hook.webhook_id)
    assert (result.success, result.response_status, result.response_body) == (True, 200, "ok")
    [got] = receiver.received
    assert got.signature_ok() and got.event == "model_version_alias.created"
    receiver.statuses = [500]
    assert svc.webhooks.test_webhook(hook.webhook_id, "registered_model.created").success is False
    assert _outbox(svc) == 0  # a test is sent directly, not through the outbox


def test_prompt_changes_are_announced_as_prompt_events(svc, receiver: Receiver):
    """As MLflow's server: a change to a prompt (a model tagged is_prompt) is a prompt event, not a model's."""
    events = ["prompt.created", "prompt_version.created", "prompt_tag.set", "prompt_tag.deleted",
              "prompt_version_tag.set", "prompt_version_tag.deleted", "prompt_alias.created", "prompt_alias.deleted",
              "registered_model.created", "model_version.created", "model_version_tag.set"]
    svc.webhooks.create_webhook("prompts", receiver.url, events, secret=SECRET)
    reg = svc.registry
    reg.create_registered_model("qa", {"mlflow.prompt.is_prompt": "true", "team": "search"}, "first")
    reg.create_model_version("qa", "prompt-template", tags={
        "mlflow.prompt.is_prompt": "true", "_mlflow_prompt_type": "text", "mlflow.prompt.text": "Hi {{x}}",
        "author": "ann"}, description="first")
    reg.set_registered_model_tag("qa", "owner", "bob")
    reg.delete_registered_model_tag("qa", "owner")
    reg.set_model_version_tag("qa", 1, "reviewed", "yes")
    reg.delete_model_version_tag("qa", 1, "reviewed")
    reg.set_registered_model_alias("qa", "production", 1)
    reg.delete_registered_model_alias("qa", "production")
    assert svc.webhooks.deliver_due() == 8
    got = receiver.received
    assert [d.event for d in got] == events[:8]
    assert got[0].json["data"] == {"name": "qa", "workspace": "default", "tags": {"team": "search"},
                                   "description": "first"}
    assert got[1].json["data"] == {"name": "qa", "workspace": "default", "version": "1", "template": "Hi {{x}}",
                                   "tags": {"author": "ann"}, "description": "first"}
    assert got[6].json["data"] == {"name": "qa", "workspace": "default", "alias": "production", "version": "1"}
    with pytest.raises(InvalidParameterValue, match="Invalid prompt source"):
        reg.create_model_version("qa", "s3://b/k", tags={"mlflow.prompt.is_prompt": "true"})


def test_payloads_name_the_workspace_of_their_model(svc, receiver: Receiver):
    """A model ``fraud`` in ``prod`` and another in ``default``: each event says which one changed."""
    from modelyard.store.workspaces import current

    svc.webhooks.create_webhook("aliases", receiver.url, ["model_version_alias.created"])
    svc.workspaces.create("prod")
    default_version = _version(svc, "fraud")
    token = current.set("prod")
    try:
        prod_version = _version(svc, "fraud")
        svc.registry.set_registered_model_alias("fraud", "champion", prod_version)
    finally:
        current.reset(token)
    svc.registry.set_registered_model_alias("fraud", "champion", default_version)
    assert svc.webhooks.deliver_due() == 2
    assert [d.json["data"] for d in receiver.received] == [
        {"name": "fraud", "workspace": "prod", "alias": "champion", "version": prod_version},
        {"name": "fraud", "workspace": "default", "alias": "champion", "version": default_version}]
