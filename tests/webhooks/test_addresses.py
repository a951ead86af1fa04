"""Webhooks reach public addresses only, unless private hosts are allowed: checked on save and on send."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import httpx
import pytest

from modelyard.errors import InvalidParameterValue
from modelyard.service import TrackingService, webhooks_addresses
from modelyard.settings import Settings
from tests.conftest import LiveServer

from .conftest import ALLOW_PRIVATE, SECRET, Receiver

PRIVATE_URLS = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",  # a name that resolves to loopback
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.0.0.7/hook",
    "https://192.168.1.20/hook",
    "http://[::1]:9/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4 wrapped in IPv6
    "http://0.0.0.0:9/hook",
]


@pytest.fixture
def strict(db_uri: str, tmp_path) -> TrackingService:
    """A service with the default settings: private hosts refused."""
    svc = TrackingService(Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "a"),
                                   default_artifact_root=str(tmp_path / "a"), serve_artifacts=False))
    svc.webhooks.embedded_delivery = False
    yield svc
    svc.close()


def test_private_hosts_are_refused_by_default():
    assert Settings().webhook_allow_private_hosts is False
    assert Settings.from_env({ALLOW_PRIVATE: "true"}).webhook_allow_private_hosts is True


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_create_refuses_a_private_host_naming_the_field_and_the_fix(strict, url):
    with pytest.raises(InvalidParameterValue) as err:
        strict.webhooks.create_webhook("h", url, ["registered_model.created"])
    assert "'url'" in err.value.message and ALLOW_PRIVATE in err.value.message
    assert strict.webhooks.list_webhooks().items == []


def test_numeric_hosts_must_be_canonical(strict):
    with pytest.raises(InvalidParameterValue, match="not a canonical IP address"):
        strict.webhooks.create_webhook("h", "http://127.1/hook", ["registered_model.created"])


def test_update_refuses_a_private_host_and_keeps_the_old_url(strict):
    hook = strict.webhooks.create_webhook("h", "https://1.1.1.1/hook", ["registered_model.created"])
    with pytest.raises(InvalidParameterValue, match="not a public address"):
        strict.webhooks.update_webhook(hook.webhook_id, url="http://127.0.0.1:8080/admin")
    assert strict.webhooks.get_webhook(hook.webhook_id).url == "https://1.1.1.1/hook"


def test_public_and_not_yet_resolvable_hosts_are_accepted(strict):
    for url in ("https://1.1.1.1/hook", "https://[2606:4700::1111]/hook", "https://hooks.invalid/x"):
        assert strict.webhooks.create_webhook("h", url, ["registered_model.created"]).url == url


def test_send_refuses_a_host_that_became_private(strict, receiver: Receiver):
    """Saved while allowed (as a name whose DNS answer later changes would be): refused when sent, not retried."""
    strict.webhooks.allow_private_hosts = True
    hook = strict.webhooks.create_webhook("h", receiver.url, ["registered_model.created"], secret=SECRET)
    strict.webhooks.allow_private_hosts = False
    strict.registry.create_registered_model("m")
    assert strict.webhooks.deliver_due() == 1
    assert receiver.received == []
    [delivery] = strict.webhooks.deliveries(hook.webhook_id).items
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "127.0.0.1" in delivery.error and "not a public address" in delivery.error
    assert strict.webhooks.seconds_until_due() is None  # nothing left to retry
    tested = strict.webhooks.test_webhook(hook.webhook_id)
    assert tested.success is False and "not a public address" in tested.error_message
    assert receiver.received == []
    strict.webhooks.allow_private_hosts = True  # the operator's opt-in lets the same send through
    assert strict.webhooks.test_webhook(hook.webhook_id).success is True
    assert len(receiver.received) == 1 and receiver.received[0].signature_ok()


def test_server_answers_400_for_a_private_webhook_url(db_uri, tmp_path, monkeypatch):
    monkeypatch.delenv(ALLOW_PRIVATE, raising=False)
    server = LiveServer(db_uri, str(tmp_path / "artifacts"))
    try:
        api = server.url + "/api/2.0/mlflow/webhooks"
        body = {"name": "h", "url": "http://169.254.169.254/latest/meta-data/",
                "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]}
        refused = httpx.post(api, json=body)
        assert refused.status_code == 400
        assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "'url'" in refused.json()["message"] and ALLOW_PRIVATE in refused.json()["message"]
        created = httpx.post(api, json={**body, "url": "https://1.1.1.1/hook"})
        assert created.status_code == 200, created.text
        webhook_id = created.json()["webhook"]["webhook_id"]
        patched = httpx.patch(f"{api}/{webhook_id}", json={"url": "http://localhost:5000/api"})
        assert patched.status_code == 400 and "'url'" in patched.json()["message"]
        assert httpx.get(f"{api}/{webhook_id}").json()["webhook"]["url"] == "https://1.1.1.1/hook"
    finally:
        server.stop()



@pytest.fixture
def resolver(monkeypatch):
    """A resolver we control: ``*.slow.test`` answers 10.0.0.7 only once released, ``*.quick.test`` at once."""
    release = threading.Event()
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        if not str(host).endswith((".slow.test", ".quick.test")):
            return real(host, *args, **kwargs)
        asked.append(host)
        if host.endswith(".slow.test"):
            release.wait(60)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(webhooks_addresses, "RESOLVE_TIMEOUT_SECONDS", 0.2)
    yield asked
    release.set()


def test_a_lookup_answered_in_time_is_checked(strict, resolver):
    with pytest.raises(InvalidParameterValue, match="resolves to 10.0.0.7"):
        strict.webhooks.create_webhook("h", "https://hook.quick.test/x", ["registered_model.created"])
    assert resolver == ["hook.quick.test"]
    assert strict.webhooks.list_webhooks().items == []


def test_a_slow_lookup_is_given_up_like_a_name_that_does_not_resolve_yet(strict, resolver):
    """The create call returns instead of waiting for the resolver; the send-time check stays the guard."""
    url = "https://hook.slow.test/x"
    hook = strict.webhooks.create_webhook("h", url, ["registered_model.created"])
    assert resolver == ["hook.slow.test"]  # it was asked, and its (private) answer never came in time
    assert strict.webhooks.get_webhook(hook.webhook_id).url == url
    for _ in range(6):  # more hung lookups than the helper pool has threads: each is still given up
        webhooks_addresses.check_public_host("again.slow.test")


HANGING_LOOKUP = """
import socket, sys, threading
from modelyard.service import TrackingService, webhooks_addresses
from modelyard.settings import Settings

real = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if str(host).endswith(".hang.test"):
        threading.Event().wait()  # a resolver that never answers
    return real(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
webhooks_addresses.RESOLVE_TIMEOUT_SECONDS = 0.2
root = sys.argv[1]
svc = TrackingService(Settings(backend_store_uri="sqlite:///" + root + "/db.sqlite", artifacts_destination=root,
                               default_artifact_root=root, serve_artifacts=False))
svc.webhooks.embedded_delivery = False
for i in range(webhooks_addresses.RESOLVER_THREADS + 2):  # every lookup thread hung, and more asked for
    hook = svc.webhooks.create_webhook(f"h{i}", f"https://h{i}.hang.test/x", ["registered_model.created"])
svc.close()
print("created", hook.webhook_id, flush=True)
"""


def test_a_hung_lookup_does_not_hold_the_process_exit(tmp_path):
    """The lookup threads are daemons: a process whose resolver never answers still exits when it is done."""
    done = subprocess.run([sys.executable, "-c", HANGING_LOOKUP, str(tmp_path)], capture_output=True, text=True,
                          check=False, timeout=120)  # a pool's worker threads would be joined at exit: forever
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("created ")
