"""Which hosts a webhook may reach: public addresses only, unless the operator allows private ones.

A webhook URL is chosen by whoever may call the API, and the server POSTs to
it: without a guard, a webhook (or its ``/test`` endpoint) reaches loopback,
the private network or a cloud metadata service (``169.254.169.254``) on the
server's behalf. As MLflow 3 (``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS``), only
public addresses are allowed unless ``webhook_allow_private_hosts``
(``MODELYARD_WEBHOOK_ALLOW_PRIVATE_HOSTS=true``) says otherwise.

Two checks:

- :func:`check_public_host` when a webhook is created or updated: an early,
  clear 400 for a URL whose host is, or resolves to, a non-public address
  (the lookup runs on a daemon helper thread and is given up after
  :data:`RESOLVE_TIMEOUT_SECONDS`, so a slow resolver can neither hold a
  request's thread nor the process's exit; a name not resolved in time is
  treated as one that does not resolve yet);
- :class:`PublicOnlyTransport` when a delivery is sent: the address of the
  socket actually connected is checked before a byte is written, so a DNS
  answer that changed since (rebinding) cannot slip through. TLS still runs
  against the host name, so certificates are checked as usual.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from ..errors import InvalidParameterValue

ALLOW_HINT = (
    "Use a public host, or, on a trusted network only, start the server with"
    " MODELYARD_WEBHOOK_ALLOW_PRIVATE_HOSTS=true."
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
RESOLVE_TIMEOUT_SECONDS = 3.0
# Lookups for create/update run on daemon threads (a hung lookup must not hold the process's
# exit, as a ThreadPoolExecutor's threads do); a few at a time at most, however many hang.
RESOLVER_THREADS = 4
_resolver_slots = threading.BoundedSemaphore(RESOLVER_THREADS)


class PrivateAddressRefused(Exception):
    """A webhook send reached a non-public address; it is refused before anything is sent."""


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP literal) is globally routable, looking through IPv6 forms that wrap IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) names no other host
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return embedded.is_global
    return ip.is_global


def _looks_numeric(host: str) -> bool:
    return ":" in host or host.replace(".", "").isdigit()


def _resolve(host: str, timeout: float) -> set[str] | None:
    """``host``'s addresses, or None when it does not resolve, or not within ``timeout`` seconds.

    The lookup runs on a daemon thread that is left behind if it hangs; while
    :data:`RESOLVER_THREADS` such lookups hang, new ones wait for a free thread
    within the same ``timeout`` and are given up (None) if none frees.
    """
    deadline = time.monotonic() + timeout
    if not _resolver_slots.acquire(timeout=timeout):
        return None
    answer: list[set[str]] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            answer.append({str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})
        except (OSError, UnicodeError):
            pass
        finally:
            _resolver_slots.release()
            done.set()

    try:
        threading.Thread(target=lookup, name="modelyard-webhook-dns", daemon=True).start()
    except BaseException:
        _resolver_slots.release()
        raise
    if not done.wait(max(0.0, deadline - time.monotonic())):
        return None
    return answer[0] if answer else None


def check_public_host(host: str, field: str = "url", timeout: float | None = None) -> None:
    """Refuse (400, naming ``field``) a host that is, or resolves to, a non-public address.

    Numeric hosts must be canonical IP literals (``127.1`` and ``0x7f.0.0.1``
    reach loopback too). A name that does not resolve now, or not within
    ``timeout`` seconds (default :data:`RESOLVE_TIMEOUT_SECONDS`), is let
    through: the send-time check is the guard, and a receiver's DNS record may
    come later.
    """
    if _looks_numeric(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidParameterValue(
                f"Invalid webhook '{field}': host {host!r} is not a canonical IP address. Write the address in"
                " full (e.g. 203.0.113.7) or use a host name."
            ) from None
        addresses: Iterable[str] = [host]
    else:
        resolved = _resolve(host, RESOLVE_TIMEOUT_SECONDS if timeout is None else timeout)
        if resolved is None:
            return
        addresses = resolved
    for address in sorted(addresses):
        if not is_public(address):
            shown = host if address == host else f"{host!r} resolves to {address}, which"
            raise InvalidParameterValue(
                f"Invalid webhook '{field}': {shown} is not a public address (loopback, private, link-local"
                f" and reserved addresses are refused). {ALLOW_HINT}"
            )


class _PublicOnlyBackend(httpcore.SyncBackend):
    """httpcore's socket backend, refusing a connection whose peer is not a public address."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            peer = stream.get_extra_info("server_addr")[0]
            public = is_public(peer)
        except (OSError, ValueError) as exc:
            stream.close()
            raise PrivateAddressRefused(f"Could not tell which address webhook host {host!r} reached: {exc}.") from exc
        if not public:
            stream.close()
            raise PrivateAddressRefused(
                f"Webhook host {host!r} resolved to {peer}, which is not a public address; nothing was sent."
                f" {ALLOW_HINT}"
            )
        return stream


class PublicOnlyTransport(httpx.HTTPTransport):
    """An httpx transport that connects to public addresses only (checked on the connected socket)."""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                             network_backend=_PublicOnlyBackend())
