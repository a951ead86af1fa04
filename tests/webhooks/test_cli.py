"""``modelyard webhooks create|list|test|deliveries`` on an embedded store, with a real receiver."""

from __future__ import annotations

import json

from modelyard.client import Client
from tests.cli.conftest import assert_clean_error, cli, client, folder  # noqa: F401  (fixtures)

from .conftest import SECRET, Receiver


def test_create_list_test_deliveries(receiver: Receiver, cli, client: Client):  # noqa: F811
    # receiver first: it allows private hosts before the embedded client reads its settings
    out = cli("webhooks", "create", "ci", receiver.url, "--event", "model_version.created",
              "--event", "model_version.stage_changed", "--secret", SECRET, "--json")
    assert out.exit_code == 0, out.output
    hook = json.loads(out.output)
    assert hook["event_names"] == ["model_version.created", "model_version.stage_changed"]
    assert "secret" not in hook
    listed = cli("webhooks", "list")
    assert hook["webhook_id"] in listed.output and "model_version.stage_changed" in listed.output
    assert json.loads(cli("webhooks", "list", "--json").output)["webhooks"][0]["name"] == "ci"
    tested = cli("webhooks", "test", hook["webhook_id"])
    assert tested.exit_code == 0 and "Delivered: HTTP 200" in tested.output
    assert receiver.received[0].signature_ok() and receiver.received[0].event == "model_version.created"
    receiver.statuses = [500]
    failed = cli("webhooks", "test", hook["webhook_id"], "--event", "model_version.stage_changed")
    assert failed.exit_code == 1 and "HTTP 500" in failed.output
    client.create_registered_model("m")
    run = client.create_run("0").info.run_id
    client.create_model_version("m", f"runs:/{run}/model", run_id=run)
    assert client.deliver_webhooks() >= 0  # flushes whatever the background thread has not sent yet
    got = receiver.wait_for(3)
    assert got[2].event == "model_version.created" and got[2].signature_ok()
    shown = cli("webhooks", "deliveries", hook["webhook_id"])
    assert "model_version.created" in shown.output and "delivered" in shown.output


def test_errors_are_clean(cli):  # noqa: F811
    assert_clean_error(cli("webhooks", "create", "bad name", "http://x", "--event", "model_version.created"),
                       "Webhook name")
    assert_clean_error(cli("webhooks", "test", "no-such-id"), "Webhook with ID no-such-id not found")
