"""The front door's checks against cross-site requests and DNS rebinding, and the headers every answer carries.

One rule set, :meth:`Guard.check` over ``(method, path, headers)``, applied by
:class:`GuardMiddleware`, the pure-ASGI middleware in front of every request of
``modelyard server`` and ``modelyard serve`` (MLflow's small write calls and the
prediction endpoint included: their short paths sit inside it). As MLflow 3.17 does by default:

- **Host allow-list** (DNS rebinding): the Host header must name ``localhost``,
  ``127.0.0.1``, ``[::1]``, the address the server is bound to, the address the
  connection came in on, or a name of the ``allowed_hosts`` setting (``*`` allows
  all, ``*.example.com`` patterns). Bound to ``0.0.0.0`` with no setting, the
  server warns and allows all. A few paths (health probes) stay open.
- **Cross-origin writes**: POST, PUT, PATCH and DELETE carrying an ``Origin``
  (or, without one, a ``Referer``) of another origin than the Host, and not in
  the ``cors_allowed_origins`` setting, are refused.
- **JSON content type** on API POSTs and PATCHes (a ``text/plain`` body is what a
  cross-site "simple" request sends), except paths whose bodies are not JSON by
  design. A request with no Content-Type at all is let through: browsers send one
  with every body, and the Origin check already stands in their way.

:class:`GuardMiddleware` also adds ``X-Frame-Options: SAMEORIGIN`` and
``X-Content-Type-Options: nosniff`` to every response, and keeps the connection
usable when the app fails after its answer is out (see :meth:`GuardMiddleware.__call__`).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeVar

import msgspec
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from .answer import Answer, Headers

log = logging.getLogger("modelyard.web.guard")

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "[::]", "")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_CHECKED = frozenset({"POST", "PATCH"})
SECURITY_HEADERS = [(b"x-frame-options", b"SAMEORIGIN"), (b"x-content-type-options", b"nosniff")]
SECURITY = Headers.of(SECURITY_HEADERS)
SECURITY_HEAD = b"".join(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS)
_CACHE_MAX = 1024  # decisions remembered per kind (an attacker may send endless new values)
K = TypeVar("K", bytes, str)


class Refusal(NamedTuple):
    """A request the guard refuses: the status and JSON body to answer with."""

    status: int
    body: bytes


def _refusal(status: int, code: str, message: str) -> Refusal:
    return Refusal(status, msgspec.json.encode({"error_code": code, "message": message}))


def split_setting(value: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``."""
    return [item.strip() for item in value.split(",") if item.strip()]


def host_names(bound: str, configured: str, setting: str) -> list[str]:
    """The names a server bound to ``bound`` answers to: local names, ``bound`` and the setting's.

    Bound to every interface (``0.0.0.0``) with the setting empty: a warning, and ``["*"]``.
    """
    extra = split_setting(configured)
    if not extra and bound in WILDCARD_ADDRESSES:
        log.warning(
            "Listening on %s with no %s: any Host header is answered, which leaves browsers on this network open"
            " to DNS rebinding. Set %s to the names clients use (comma-separated).", bound or "*", setting, setting,
        )
        return ["*"]
    names = [*LOCAL_NAMES, *extra]
    if bound not in WILDCARD_ADDRESSES:
        names.append(bound)
    return names


def _hostname(host: bytes) -> str:
    """``b"Example.com:5000"`` → ``"example.com"``; ``b"[::1]:80"`` → ``"[::1]"``."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[: text.find("]") + 1]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def _origin_netloc(value: bytes) -> bytes | None:
    """``b"http://host:5000/x"`` → ``b"host:5000"`` (lower case); None when it names no host."""
    scheme, sep, rest = value.partition(b"://")
    if not sep or not scheme:
        return None
    return rest.split(b"/", 1)[0].split(b"?", 1)[0].lower() or None


class Guard:
    """The rules of one server: which hosts it answers to, which origins may write, which bodies must be JSON.

    ``json_prefixes``: paths under these take JSON on POST and PATCH, except those under ``json_exempt``.
    ``open_paths`` and ``open_prefixes``: answered whatever the Host (health and readiness probes).
    ``hosts_setting`` and ``origins_setting`` name the settings in refusal messages.
    """

    def __init__(
        self, allowed_hosts: Iterable[str], allowed_origins: Iterable[str] = (), *,
        json_prefixes: tuple[str, ...] = (), json_exempt: tuple[str, ...] = (),
        open_paths: Iterable[str] = (), open_prefixes: tuple[str, ...] = (),
        hosts_setting: str = "MODELYARD_ALLOWED_HOSTS", origins_setting: str = "MODELYARD_CORS_ALLOWED_ORIGINS",
    ) -> None:
        hosts = [h.strip().lower() for h in allowed_hosts if h.strip()]
        self.any_host = "*" in hosts
        self._host_names = {h for h in hosts if "*" not in h}
        self._host_patterns = [h for h in hosts if "*" in h and h != "*"]
        origins = [o.strip().rstrip("/").lower() for o in allowed_origins if o.strip()]
        self.any_origin = "*" in origins
        self._origins = {o.encode("latin-1") for o in origins if "*" not in o}
        self._origin_patterns = [o for o in origins if "*" in o and o != "*"]
        self.json_prefixes, self.json_exempt = json_prefixes, json_exempt
        self.open_paths, self.open_prefixes = frozenset(open_paths), open_prefixes
        # What was decided of each Host value, content type and path (the same few come every time).
        self._known: dict[bytes, bool] = {}
        self._json_kinds: dict[bytes, bool] = {}
        self._json_paths: dict[str, bool] = {}
        self.wrong_host = _refusal(
            403, "PERMISSION_DENIED",
            f"Invalid Host header: this server does not answer to that name (an operator may allow it with"
            f" {hosts_setting}).",
        )
        self.cross_origin = _refusal(
            403, "PERMISSION_DENIED",
            f"Cross-origin request refused: a page of another site may not change this server's state (an operator"
            f" may allow an origin with {origins_setting}).",
        )
        self.not_json = _refusal(
            415, "INVALID_PARAMETER_VALUE",
            "Bad Request. Content-Type must be application/json: send the request body as JSON with that header.",
        )

    def check(self, method: str, path: str, headers: Iterable[tuple[bytes, bytes]],
              local: str | None = None) -> Refusal | None:
        """None if the request may pass, else the refusal to answer with.

        ``headers``: lower-case names, as ASGI servers give them; ``local``: the address the
        connection came in on (an IP literal is no rebinding: a browser only sends a name it resolved).
        """
        given = dict(headers)
        host = given.get(b"host")
        # (The caches' answers first: the same few values come every time.)
        if not self.any_host and not (host is not None and self._known.get(host)) \
                and not self._host_ok(host, local) and not self._open(path):
            return self.wrong_host
        if method in STATE_CHANGING:
            source = given.get(b"origin") or given.get(b"referer")
            if source is not None and not self.any_origin and not self._origin_ok(source, host):
                return self.cross_origin
            if method in JSON_CHECKED:
                kind = given.get(b"content-type")
                if kind is not None and not (self._json_kinds.get(kind) or _remember(
                        self._json_kinds, kind, _is_json)) and _remember(self._json_paths, path, self._takes_json):
                    return self.not_json
        return None

    def _takes_json(self, path: str) -> bool:
        return path.startswith(self.json_prefixes) and not path.startswith(self.json_exempt)

    def _open(self, path: str) -> bool:
        return path in self.open_paths or (bool(self.open_prefixes) and path.startswith(self.open_prefixes))

    def _host_ok(self, host: bytes | None, local: str | None) -> bool:
        if host is None:
            return False
        if _remember(self._known, host, self._named):
            return True
        return local is not None and _hostname(host) in (local.lower(), f"[{local.lower()}]")

    def _named(self, host: bytes) -> bool:
        name = _hostname(host)
        return name in self._host_names or any(fnmatch.fnmatchcase(name, p) for p in self._host_patterns)

    def _origin_ok(self, source: bytes, host: bytes | None) -> bool:
        netloc = _origin_netloc(source)
        if netloc is not None and host is not None and netloc == host.strip().lower():
            return True  # same origin
        origin = source.lower().rstrip(b"/")
        if netloc is not None:  # a Referer: its origin only
            origin = origin.split(b"://", 1)[0] + b"://" + netloc
        if origin in self._origins:
            return True
        text = origin.decode("latin-1")
        return any(fnmatch.fnmatchcase(text, p) for p in self._origin_patterns)


def _remember(cache: dict[K, bool], key: K, decide: Callable[[K], bool]) -> bool:
    """``decide(key)``, remembered in ``cache`` (up to :data:`_CACHE_MAX` keys: clients choose them)."""
    known = cache.get(key)
    if known is None:
        known = decide(key)
        if len(cache) < _CACHE_MAX:
            cache[key] = known
    return known


def _is_json(kind: bytes) -> bool:
    media = kind.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class GuardMiddleware:
    """Pure ASGI: :meth:`Guard.check` on every HTTP request, security headers on every response."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse, or pass on with the headers added.

        An exception raised after the answer is complete (Starlette's error middleware
        sends the 500, then re-raises it for the server to log) is logged here and not
        raised further: uvicorn would drop the connection, and the client's next request
        on it would meet a reset. Raised before the answer is whole, it goes on up and the
        server closes the connection, as it must.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        refusal = self.guard.check(scope["method"], scope["path"], scope["headers"], server[0] if server else None)
        if refusal is not None:
            await send({"type": "http.response.start", "status": refusal.status, "headers": [
                *SECURITY_HEADERS, (b"content-type", b"application/json"),
                (b"content-length", str(len(refusal.body)).encode())]})
            await send({"type": "http.response.body", "body": refusal.body})
            return
        answer = Answer.around(send)  # the request's one send wrapper (.answer): it adds the headers
        answer.extra = SECURITY
        try:
            await self.app(scope, receive, answer)
        except Exception as exc:
            if not answer.complete:
                raise
            if not isinstance(exc, ClientDisconnect):  # a client gone: nothing went wrong here
                log.exception("error after the response to %s %s was sent", scope["method"], scope["path"])
