"""``modelyard.Client`` webhook methods, in process (embedded) and over HTTP (server): the same answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelyard.client import Client
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from tests.registry.conftest import unique

from .conftest import SECRET, Receiver
from .test_mlflow_client import server, settled  # noqa: F401  (fixture)

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning")]


@pytest.fixture(params=["embedded", "server"])
def client(request: pytest.FixtureRequest, receiver: Receiver, server, tmp_path) -> Iterator[Client]:  # noqa: F811
    """In process over a fresh folder (made after ``receiver`` allows private hosts), or over HTTP."""
    c = Client(str(tmp_path / "store") if request.param == "embedded" else server.url)
    yield c
    c.close()


def test_round_trip(client: Client, receiver: Receiver) -> None:
    events = ["model_version.created", "model_version.stage_changed"]  # the second is ours, not MLflow's
    hook = client.create_webhook(unique("hook"), receiver.url, events, description="ci", secret=SECRET)
    assert (hook.events, hook.description, hook.status) == (events, "ci", "ACTIVE")
    assert client.get_webhook(hook.webhook_id) == hook
    result = client.test_webhook(hook.webhook_id, "model_version.stage_changed")
    assert (result.success, result.response_status) == (True, 200)
    [sent] = receiver.wait_for(1)
    assert sent.event == "model_version.stage_changed" and sent.signature_ok()

    updated = client.update_webhook(hook.webhook_id, description="cd", status="DISABLED")
    assert (updated.name, updated.url, updated.events) == (hook.name, hook.url, events)
    assert (updated.description, updated.status) == ("cd", "DISABLED")
    assert client.get_webhook(hook.webhook_id) == updated

    client.delete_webhook(hook.webhook_id)
    with pytest.raises(ResourceDoesNotExist):
        client.get_webhook(hook.webhook_id)
    with pytest.raises(ResourceDoesNotExist):
        client.update_webhook(hook.webhook_id, description="gone")
    with pytest.raises(InvalidParameterValue):
        client.create_webhook("-bad-", receiver.url, events)


def test_list_pages_include_our_events(client: Client, receiver: Receiver) -> None:
    first = client.create_webhook(unique("hook"), receiver.url, ["model_version.stage_changed"])
    second = client.create_webhook(unique("hook"), receiver.url, ["registered_model.created"])
    page = client.list_webhooks(max_results=1)
    assert len(page) == 1 and page.token
    rest = client.list_webhooks(max_results=1000, page_token=page.token)
    # newest first; a webhook with none of MLflow's events (MlflowClient could not read it) is listed too
    ids = [h.webhook_id for h in [*page, *rest]]
    assert ids.index(second.webhook_id) < ids.index(first.webhook_id)
    for hook in (first, second):
        client.delete_webhook(hook.webhook_id)


def test_registry_change_is_delivered_and_listed(client: Client, receiver: Receiver) -> None:
    hook = client.create_webhook(unique("hook"), receiver.url, ["registered_model.created"], secret=SECRET)
    name = unique()
    client.create_registered_model(name)
    flushed = client.deliver_webhooks()  # in process: what the background thread has not sent yet
    assert flushed == 0 if client.tracking_uri.startswith("http") else flushed >= 0  # a server delivers itself
    [got] = receiver.wait_for(1, where=lambda d: d.json["data"].get("name") == name)
    assert got.event == "registered_model.created" and got.signature_ok()
    [delivery] = settled(client, hook.webhook_id, 1)
    assert (delivery.event, delivery.status, delivery.response_status) == ("registered_model.created", "delivered", 200)
    page = client.list_webhook_deliveries(hook.webhook_id, max_results=1)
    assert [d.delivery_id for d in page] == [delivery.delivery_id] and page.token is None
    client.delete_webhook(hook.webhook_id)
