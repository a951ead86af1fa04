"""The server's routes for the table of operations (:mod:`modelyard.api`): one endpoint per operation.

Each endpoint reads the request the way the operation declares — the query string, or a JSON body
under the operation's size limit — into its request struct (msgspec names the offending field of
a bad one), fills in the path's parameters, and runs the handler with the acting user set: in the
thread pool (the store is synchronous), or on the event loop for small ``inline`` reads. The
handler's answer is the response body.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api.operations import Operation, all_operations
from ..errors import ModelyardError
from ..service.caller import caller, workspace
from ..service.registry import acting_user
from ..service.workspaces import check_name
from .auth import PRINCIPAL, authorize, authorize_operation, creates, record_creator
from .protocol import (
    JSONResponse,
    accepts,
    batch_too_large,
    decode_body,
    decode_query,
    read_body,
    refuse_nul,
    too_large,
)

TOO_LARGE: dict[str, Callable[[int, int], ModelyardError]] = {"too_large": too_large, "batch": batch_too_large}


def request_user(request: Request) -> str | None:
    """The HTTP Basic username of a request, else None (anonymous)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        user = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, ValueError):
        return None
    return user or None


WORKSPACE_HEADER = "x-mlflow-workspace"


def request_workspace(request: Request) -> str | None:
    """The workspace a request names (MLflow's ``X-MLFLOW-WORKSPACE`` header), checked; None: the default."""
    named = request.headers.get(WORKSPACE_HEADER, "").strip()
    return check_name(named) if named else None


def operation_endpoint(op: Operation) -> Callable[[Request], Any]:
    """The ASGI endpoint of ``op``: see the module's docstring."""
    on_too_large = TOO_LARGE[op.too_large]
    handler: list[Callable[[Any, Any], Any]] = []  # resolved on first call

    async def handle(request: Request) -> Response:
        if not handler:
            handler.append(op.resolve())
        service = request.app.state.service
        principal = request.scope.get(PRINCIPAL)
        if principal is not None:
            authorize_operation(principal, op)
        if op.query or request.method == "GET":
            obj: Any = decode_query(request, op.request)
        else:
            if request.path_params:
                refuse_nul(request)
            limit = getattr(service.settings, op.max_bytes_setting)
            obj = decode_body(await read_body(request, limit, on_too_large), op.request, limit, on_too_large)
        if request.path_params:
            obj = msgspec.structs.replace(obj, **request.path_params)
        named = request_workspace(request)
        workspace_token = workspace.set(named)  # names in the request, its check and its creator's grant are of it
        try:
            if principal is not None:
                authorize(service, principal, op, obj, named)
            token = acting_user.set(principal.username if principal is not None else request_user(request))
            caller_token = caller.set(principal)
            try:
                if op.inline and service.inline_small_requests:
                    result = handler[0](service, obj)  # a few hundred microseconds: cheaper than a thread hop
                else:
                    result = await run_in_threadpool(handler[0], service, obj)  # the thread inherits the user
            finally:
                caller.reset(caller_token)
                acting_user.reset(token)
            if principal is not None and result is not None and creates(op):
                await run_in_threadpool(record_creator, service, principal, op, obj, result)
        finally:
            workspace.reset(workspace_token)
        if op.status == 204:
            return Response(status_code=204)
        return JSONResponse({} if result is None else result, status_code=op.status)

    return accepts(op.request, query_methods=op.methods if op.query else ("GET",), name=op.name)(handle)


def operation_routes() -> list[Route]:
    """A route per operation and path (its /ajax-api twin included)."""
    routes = []
    for op in all_operations():
        endpoint = operation_endpoint(op)
        for path in op.paths:
            routes.append(Route(path, endpoint, methods=list(op.methods), name=f"{path}:{'/'.join(op.methods)}"))
    return routes
