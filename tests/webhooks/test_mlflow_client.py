"""The official ``MlflowClient`` webhook API against a live server, and what the server delivers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from modelyard.client import Client
from tests.conftest import LiveServer, serving
from tests.registry.conftest import mlflow_client, unique  # noqa: F401  (fixtures)

from .conftest import ALLOW_PRIVATE, SECRET, Receiver

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning")]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per database whose webhooks may reach our receivers on 127.0.0.1."""
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:
            env.setenv(ALLOW_PRIVATE, "true")
            live = stack.enter_context(serving(request.param, tmp_path_factory.mktemp(f"hooks-{request.param}")))
        yield live


def settled(ours: Client, webhook_id: str, n: int, timeout: float = 20.0) -> list:
    """The webhook's deliveries once ``n`` have an outcome recorded (the receiver sees a send before the
    sender records its answer), or as they are after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        history = ours.list_webhook_deliveries(webhook_id).items
        done = [d for d in history if d.status not in ("pending", "delivering")]
        if len(done) >= n or time.monotonic() > deadline:
            return history
        time.sleep(0.05)


def test_crud_and_test_webhook(mlflow_client, receiver: Receiver):  # noqa: F811
    from mlflow.entities.webhook import WebhookEvent, WebhookStatus

    c = mlflow_client
    name = unique("hook")
    hook = c.create_webhook(name, receiver.url, ["model_version.created", "model_version_alias.created"],
                            description="ci", secret=SECRET)
    assert (hook.name, hook.url, hook.description, hook.status) == (name, receiver.url, "ci", WebhookStatus.ACTIVE)
    assert {str(e) for e in hook.events} == {"model_version.created", "model_version_alias.created"}
    assert hook.secret is None
    assert c.get_webhook(hook.webhook_id).name == name
    assert hook.webhook_id in [h.webhook_id for h in c.list_webhooks(max_results=1000)]
    updated = c.update_webhook(hook.webhook_id, description="cd", status=WebhookStatus.DISABLED,
                               events=[WebhookEvent.from_str("registered_model.created")])
    assert (updated.description, updated.status, [str(e) for e in updated.events]) == (
        "cd", WebhookStatus.DISABLED, ["registered_model.created"])
    result = c.test_webhook(hook.webhook_id)
    assert (result.success, result.response_status, result.response_body) == (True, 200, "ok")
    [got] = receiver.received
    assert got.signature_ok() and got.event == "registered_model.created"
    assert got.json["data"]["name"] == "example_model"
    receiver.statuses = [500]
    failed = c.test_webhook(hook.webhook_id, WebhookEvent.from_str("model_version_tag.set"))
    assert (failed.success, failed.response_status) == (False, 500)
    c.delete_webhook(hook.webhook_id)
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="not found") as err:
        c.get_webhook(hook.webhook_id)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as bad:
        c.create_webhook("-bad-", receiver.url, ["model_version.created"])
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_registry_changes_are_delivered_signed(server, mlflow_client, receiver: Receiver):  # noqa: F811
    c, name = mlflow_client, unique()
    events = ["model_version.created", "model_version_alias.created", "model_version.stage_changed"]
    ours = Client(server.url)
    hook = ours.create_webhook(unique("hook"), receiver.url, events, secret=SECRET)
    assert sorted(hook.events) == sorted(events)
    # MlflowClient cannot read a webhook with our event, but lists the ones it can
    assert hook.webhook_id in [h.webhook_id for h in c.list_webhooks(max_results=1000)]
    run_id = c.create_run("0").info.run_id
    c.create_registered_model(name)
    mv = c.create_model_version(name, f"runs:/{run_id}/model", run_id)
    c.set_registered_model_alias(name, "champion", mv.version)
    c.transition_model_version_stage(name, mv.version, "Production")
    got = receiver.wait_for(3, where=lambda d: d.json["data"].get("name") == name)
    assert [d.event for d in got] == events
    assert all(d.signature_ok() for d in got)
    assert got[0].json["data"]["run_id"] == run_id and got[1].json["data"]["version"] == "1"
    assert got[2].json["data"]["to_stage"] == "Production"
    history = settled(ours, hook.webhook_id, 3)
    assert sorted(d.event for d in history) == sorted(events) and {d.status for d in history} == {"delivered"}
    ours.delete_webhook(hook.webhook_id)
    ours.close()


def test_failing_receiver_is_retried_then_delivered_once(server, mlflow_client, receiver: Receiver):  # noqa: F811
    c, name = mlflow_client, unique()
    hook = c.create_webhook(unique("hook"), receiver.url, ["registered_model.created"], secret=SECRET)
    receiver.statuses = [500]
    c.create_registered_model(name)
    got = receiver.wait_for(2, timeout=30)
    assert len(got) == 2 and [d.json["data"]["name"] for d in got] == [name, name]
    assert got[0].headers["x-mlflow-delivery-id"] == got[1].headers["x-mlflow-delivery-id"]
    assert all(d.signature_ok() for d in got)
    with Client(server.url) as ours:
        [delivery] = settled(ours, hook.webhook_id, 1)
        assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 2, 200)
        ours.delete_webhook(hook.webhook_id)
    assert len(receiver.wait_for(3, timeout=1.5)) == 2  # and nothing more
