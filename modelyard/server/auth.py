"""Authentication in front of every route, and each operation's permission checked before it runs.

:class:`AuthMiddleware` (behind the guard, in front of everything else, on when the server runs
with ``--auth``) reads the ``Authorization`` header — HTTP Basic (the official client's
``MLFLOW_TRACKING_USERNAME``/``PASSWORD``) or a bearer token (``MLFLOW_TRACKING_TOKEN``) — and
answers 401 ``UNAUTHENTICATED`` (JSON, with a Basic challenge so a browser asks) when it is
missing or does not verify; any malformed header is a 401, never a 500. The verified caller goes
into the ASGI scope. A header verified within ``auth_cache_seconds`` is recognised on the event loop
by one lookup of its raw bytes; any other goes to a worker thread to be checked against the store.

:func:`authorize` is called by every operation's endpoint with the decoded request: the
operation's declared permission (``modelyard.api``) on the resource its field names — an
experiment, a run's experiment, a registered model, a logged model's experiment — or on the
server (EDIT: any signed-in user; MANAGE: admins). A denied request gets 403
``PERMISSION_DENIED`` with a message that names nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from time import monotonic
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.operations import Operation
from ..errors import ModelyardError, PermissionDenied, Unauthenticated
from ..service import TrackingService
from ..service.auth import RANK
from ..service.caller import DEFAULT_WORKSPACE, Principal
from . import session
from .protocol import JSONResponse

log = logging.getLogger("modelyard.server.auth")

PRINCIPAL = "modelyard.principal"
# The HTTP trigger carries its trigger's own token, checked by the route (routes/pipelines.py).
TRIGGER_PATHS = ("/api/2.0/modelyard/pipelines/triggers/fire", "/ajax-api/2.0/modelyard/pipelines/triggers/fire")
OPEN_PATHS = ("/health", "/favicon.ico", "/login", "/logout", *TRIGGER_PATHS)
LOGIN = "/login"
METRICS = "/metrics"  # with auth: admins only, or anyone with auth_metrics_open
OPEN_PREFIXES = ("/static/",)
_CHALLENGE = 'Basic realm="modelyard", charset="UTF-8"'

# What a resource of a run or logged model belongs to never changes: remembered (bounded).
_EXPERIMENT_OF: dict[tuple[str, str], str | None] = {}
_REMEMBER = 100_000
_EXPERIMENTS_SEEN: set[tuple[int, str]] = set()


class AuthMiddleware:
    def __init__(self, app: ASGIApp, service: TrackingService) -> None:
        self.app = app
        self.service = service
        self.verified, self.sessions = service.auth.verified, service.auth.sessions
        self.open_paths = frozenset((*OPEN_PATHS, *((METRICS,) if service.settings.auth_metrics_open else ())))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in self.open_paths or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        # Credentials verified within the cache's time: one lookup of the raw header (no coroutine, no thread).
        principal = found = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                found = self.verified.get(value)
                break
            if name == b"cookie" and found is None:
                found = self.sessions.get(value)  # a Cookie header that held a valid session cookie
        if found is not None and found[0] > monotonic():
            principal = found[1]
        try:
            if principal is None:
                principal = await self.authenticate(scope)
            if path == METRICS and not principal.is_admin:
                raise PermissionDenied("Permission denied.")  # its gauges name monitors and models
        except ModelyardError as exc:
            if exc.status == 401 and _wants_page(scope):
                await RedirectResponse(_login_url(scope), status_code=303)(scope, receive, send)
                return
            headers = {"WWW-Authenticate": _CHALLENGE} if exc.status == 401 else {}
            retry = getattr(exc, "retry_after", None)
            if retry:
                headers["Retry-After"] = str(retry)
            await JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)

    async def authenticate(self, scope: Scope) -> Principal:
        """The caller of a request not answered from the caches in :meth:`__call__`: verified against the store
        in a worker thread (then cached by the raw header that carried the credentials)."""
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        auth = self.service.auth
        if header is not None:
            address = (scope.get("client") or ("", 0))[0] or ""
            return await run_in_threadpool(auth.authenticate_header, header, address)
        raw, cookie = session.session_cookie(scope)  # the Cookie header holding the session cookie: the cache's key
        found = session.read(session.secret_of(scope["app"]), cookie) if cookie else None
        if found is not None:
            return await run_in_threadpool(auth.authenticate_cookie, raw, found.username, found.mark, found.expires)
        raise Unauthenticated("Authentication required: send HTTP Basic credentials or a bearer token.")


def _wants_page(scope: Scope) -> bool:
    """A browser asking for a page (GET, Accept: text/html): sent to the login page rather than a 401."""
    if scope["method"] != "GET":
        return False
    for name, value in scope["headers"]:
        if name == b"accept":
            return b"text/html" in value
    return False


def _login_url(scope: Scope) -> str:
    target = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
    return f"{LOGIN}?{urlencode({'next': target})}"


def field_value(request: Any, path: str) -> Any:
    """The value of the request's field ``path``, dotted into nested structs and JSON objects (None when absent);
    through a list, the list of each item's value (``requests.model_name``: every row's model)."""
    value = request
    names = path.split(".")
    for i, name in enumerate(names):
        if isinstance(value, list):
            rest = ".".join(names[i:])
            return [found for item in value if (found := field_value(item, rest)) is not None]
        value = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if value is None:
            return None
    return value


def _values(value: Any) -> Sequence[str]:
    if value is None or value == "":
        return ()
    if isinstance(value, (list, tuple)):
        return list(dict.fromkeys(str(v) for v in value if v not in (None, "")))  # each once
    return (str(value),)


def _experiment_of(service: TrackingService, kind: str, key: str) -> str | None:
    """The experiment a run, trace, dataset or logged model belongs to (None when there is no such thing)."""
    found = _EXPERIMENT_OF.get((kind, key), "")
    if found != "":
        return found
    try:
        if kind == "run":
            found = service.runs.get(key).info.experiment_id
        elif kind == "trace":
            found = service.traces.get_info(key).experiment_id
        elif kind == "dataset":  # its first experiment; a dataset in none is the server's (not remembered:
            return next(iter(service.datasets.get(key).experiment_ids), None)  # its experiments change)
        else:
            found = service.logged_models.get(key, allow_deleted=True).experiment_id
    except ModelyardError:
        return None  # not there: the handler answers 404 (or the request's own error) as it would
    if len(_EXPERIMENT_OF) >= _REMEMBER:
        _EXPERIMENT_OF.clear()
    _EXPERIMENT_OF[(kind, key)] = found
    return found


FIELD_RESOURCES = ("experiment", "run", "logged_model", "trace", "registered_model", "dataset", "monitor",
                   "monitor_result", "monitor_alert", "workspace")
# A monitor, its results and alerts belong to the registered model it watches.
MONITOR_KINDS = ("monitor", "monitor_result", "monitor_alert")


def by_request(op: Operation) -> bool:
    """Whether ``op``'s permission is on a resource its request names (checked once it is decoded)."""
    return op.permission.resource in FIELD_RESOURCES and op.permission.field is not None


def authorize_operation(principal: Principal, op: Operation) -> None:
    """Before the request is read: a permission on the server as a whole (EDIT and READ: any signed-in
    user; MANAGE: admins)."""
    if not principal.is_admin and not by_request(op) and op.permission.level == "MANAGE":
        raise PermissionDenied("Permission denied.")


def check(service: TrackingService, principal: Principal, level: str, kind: str, key: str | None) -> None:
    """Raise PERMISSION_DENIED unless ``principal`` holds ``level`` on one resource.

    ``kind`` is ``experiment``, ``run`` or ``logged_model`` (their experiment's grant),
    ``registered_model``, ``monitor``, ``monitor_result`` or ``monitor_alert`` (their model's grant), or ``server`` (EDIT: any signed-in user; MANAGE: admins). A run or logged
    model that does not exist is not checked: the handler answers 404 as it would.
    """
    if principal.is_admin:
        return
    if kind == "server":
        if RANK[level] >= RANK["MANAGE"]:
            raise PermissionDenied("Permission denied.")
        return
    if not key:
        return
    if kind in MONITOR_KINDS:
        model = service.monitoring.model_of(kind, key)
        if model is None:
            return  # not there: the handler answers 404 as it would
        kind, key = "registered_model", model
    if kind in ("registered_model", "workspace"):
        service.auth.require(principal, level, kind, key)
        return
    experiment_id = key if kind == "experiment" else _experiment_of(service, kind, key)
    if experiment_id is not None:
        service.auth.require(principal, level, "experiment", experiment_id)


# Operations that make something in the request's workspace: outside the default one, EDIT on the workspace.
IN_WORKSPACE = ("create_experiment", "create_registered_model")


# Operations whose permission is on an experiment, or a run's, named by a plain field: checked from the cached
# grant in a few lookups (:func:`_known`). Operation name → (field, resource, rank needed); None: the full check.
_PLANS: dict[str, tuple[str, str, int] | None] = {}


def _plan(op: Operation) -> tuple[str, str, int] | None:
    perm = op.permission
    simple = (perm.resource in ("experiment", "run") and perm.field is not None and "." not in perm.field
              and not perm.field.endswith("_name") and op.name not in IN_WORKSPACE)
    return (perm.field, perm.resource, RANK[perm.level]) if simple and perm.field else None


def _known(service: TrackingService, principal: Principal, op: Operation, request: Any) -> bool:
    """Whether the cached grants already allow ``op`` (False: not known, check in full)."""
    try:
        plan = _PLANS[op.name]
    except KeyError:
        plan = _PLANS[op.name] = _plan(op)
    if plan is None:
        return False
    field, kind, needed = plan
    value = getattr(request, field, None)
    if value.__class__ is str:
        keys: Iterable[Any] = (value,)
    elif value.__class__ is list and kind == "experiment":
        keys = value  # every experiment a search names
    else:
        return False
    ranks, now, user = service.auth.ranks, monotonic(), principal.user_id
    for key in keys:
        if key.__class__ is not str or not key:
            return False
        experiment = key if kind == "experiment" else _EXPERIMENT_OF.get(("run", key))
        if not experiment:
            return False
        found = ranks.get((user, "experiment", experiment))
        if found is None or found[0] <= now or found[2] < needed:
            return False
    return True


def authorize(service: TrackingService, principal: Principal, op: Operation, request: Any,
              workspace: str | None = None) -> None:
    """Raise PERMISSION_DENIED unless ``principal`` holds ``op``'s permission on what ``request`` names
    (and EDIT on the ``workspace`` a create names, outside the default one)."""
    if principal.is_admin or _known(service, principal, op, request):
        return
    perm = op.permission
    if workspace not in (None, DEFAULT_WORKSPACE) and op.name in IN_WORKSPACE:
        assert workspace is not None
        check(service, principal, "EDIT", "workspace", workspace)
    if op.name == "create_experiment" and getattr(request, "artifact_location", None):
        # A location of the caller's choosing could lie in another experiment's folder and read it through
        # this one's runs: only admins choose one; others get the server's place, <experiment_id>/.
        raise PermissionDenied(
            "Only admins may set 'artifact_location' on a server with authentication: leave it out, and the"
            " experiment's artifacts go to the server's artifact store.")
    if by_request(op):
        assert perm.field is not None
        keys = _values(field_value(request, perm.field))
        if perm.absent_means_every and not keys:
            noun = perm.resource.replace("_", " ")
            raise PermissionDenied(f"Name a {noun} in '{perm.field}': leaving it out asks for every {noun}'s,"
                                   " which only admins may.")
        for key in keys:
            if perm.resource == "experiment" and perm.field.endswith("_name"):
                found = service.experiments.get_by_name(key)
                if found is None:
                    continue
                key = found.experiment_id
            check(service, principal, perm.level, perm.resource, key)
        if op.name == "create_run" and not getattr(request, "experiment_id", None):
            check(service, principal, perm.level, "experiment", "0")  # the default experiment
        return
    check(service, principal, perm.level, "server", None)


def principal_of(request: Request) -> Principal | None:
    """The signed-in caller of ``request``; None when the server does not authenticate."""
    found: Principal | None = request.scope.get(PRINCIPAL)
    return found


def require(request: Request, level: str, kind: str, key: str | None) -> None:
    """For routes outside the table: :func:`check` on the request's caller (nothing when auth is off).

    Call it from a worker thread (it may read the store): ``await run_in_threadpool(require, ...)``.
    """
    principal = principal_of(request)
    if principal is not None:
        check(request.app.state.service, principal, level, kind, key)


def require_artifact_path(request: Request, level: str, path: str) -> None:
    """``level`` on the experiment an ``mlflow-artifacts`` path lies under.

    The proxy keeps an experiment's files under ``<experiment_id>/`` (runs and logged models below
    it); a path outside any experiment (the root, a custom location) is for admins only. Checked
    before the path is looked at, so a denied path reveals nothing, not even whether it exists.
    """
    principal = principal_of(request)
    if principal is None or principal.is_admin:
        return
    service: TrackingService = request.app.state.service
    first = path.strip("/").split("/", 1)[0]
    if not first.isdigit():
        raise PermissionDenied("Permission denied.")
    if (id(service), first) not in _EXPERIMENTS_SEEN:  # an experiment's id is never reused: remembered (bounded)
        try:
            service.experiments.get(first)
        except ModelyardError:
            raise PermissionDenied("Permission denied.") from None
        if len(_EXPERIMENTS_SEEN) >= _REMEMBER:
            _EXPERIMENTS_SEEN.clear()
        _EXPERIMENTS_SEEN.add((id(service), first))
    check(service, principal, level, "experiment", first)


def readable(request: Request, kind: str, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` (resources of ``kind``) the request's caller may read."""
    principal = principal_of(request)
    keys = list(keys)
    if principal is None or principal.is_admin:
        return set(keys)
    service = request.app.state.service
    return {key for key in keys if may_read(service, principal, kind, key)}


def may_read(service: TrackingService, principal: Principal, kind: str, key: str) -> bool:
    try:
        check(service, principal, "READ", kind, key)
    except PermissionDenied:
        return False
    return True


# Whoever creates one of these manages it: (operation, resource type, how to find its id).
CREATED: dict[str, tuple[str, Callable[[Any, dict[str, Any]], Any]]] = {
    "create_experiment": ("experiment", lambda req, answer: answer.get("experiment_id")),
    "create_registered_model": ("registered_model", lambda req, answer: getattr(req, "name", None)),
}


def creates(op: Operation) -> bool:
    """Whether ``op`` makes something its caller then manages (:func:`record_creator`)."""
    return op.name in CREATED


def record_creator(service: TrackingService, principal: Principal, op: Operation, request: Any, answer: Any) -> None:
    made = CREATED.get(op.name)
    if made is None or not isinstance(answer, dict):
        return
    resource_id = made[1](request, answer)
    if resource_id:
        service.auth.creator(principal, made[0], str(resource_id))
