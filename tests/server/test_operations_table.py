"""The table of operations (modelyard.api) is the one declaration of each call of the REST API.

Every operation is routed exactly once under each of its paths and methods, and both of the
SDK's transports run every one of them with the same outcome: the in-process transport calls the
handler on the service, the HTTP transport sends the request to the real app.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.routing import Route
from starlette.testclient import TestClient

from modelyard.api.operations import Operation, all_operations
from modelyard.api.schemas import Request
from modelyard.client.http import HttpTransport
from modelyard.client.transport import LocalTransport
from modelyard.errors import ModelyardError
from modelyard.server import create_app
from modelyard.settings import Settings

OPS = all_operations()


def test_names_are_unique_and_each_operation_is_complete():
    names = [op.name for op in OPS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for op in OPS:
        assert issubclass(op.request, Request), op.name
        assert callable(op.resolve()), op.name
        assert op.permission.level in ("READ", "EDIT", "MANAGE"), op.name
        for param in op.path_params:
            assert param in op.request.__struct_fields__, (op.name, param)
        if op.method == "GET":
            assert op.idempotent, f"{op.name}: a read is safe to ask again"


def test_every_operation_is_routed_once_per_path_and_method(tmp_path):
    app = create_app(Settings(backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
                              artifacts_destination=str(tmp_path / "artifacts"), background_workers=False))
    seen: dict[tuple[str, str], int] = {}
    for route in app.router.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                seen[(route.path, method)] = seen.get((route.path, method), 0) + 1
    for op in OPS:
        for path in op.paths:
            for method in op.methods:
                assert seen.get((path, method)) == 1, (op.name, method, path, seen.get((path, method)))
    doc = TestClient(app).get("/openapi.json").json()
    for op in OPS:
        assert op.method.lower() in doc["paths"][re.sub(r":\w+}", "}", op.path)], op.name


def _placeholder(kind: Any) -> Any:
    for value in ("nothing-here", 0, False):
        try:
            return msgspec.convert(value, kind)
        except msgspec.ValidationError:
            continue
    raise AssertionError(f"no placeholder for {kind}")


def minimal_request(op: Operation) -> dict[str, Any]:
    """The fields a request cannot leave out, and its path parameters, set to values naming nothing."""
    return {f.name: _placeholder(f.type) for f in msgspec.structs.fields(op.request)
            if f.required or f.name in op.path_params}


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        answer = call()
    except ModelyardError as exc:
        return "error", (exc.error_code, exc.status)
    return "ok", sorted(answer)


def test_both_transports_run_every_operation_alike(db_uri, tmp_path):
    """Each operation with an empty request (path parameters naming nothing): the same answer, or
    the same error code and status, in process and over HTTP — never a server error."""
    uri = db_uri
    local = LocalTransport(uri)
    app = create_app(Settings(backend_store_uri=uri, artifacts_destination=str(tmp_path / "artifacts"),
                              background_workers=False))
    with TestClient(app, raise_server_exceptions=False) as http_client:
        remote = HttpTransport("http://testserver", http=http_client, retries=0)
        try:
            for op in OPS:
                request = msgspec.convert(minimal_request(op), op.request)
                here = _outcome(lambda op=op, request=request: local.call(op, request))
                there = _outcome(lambda op=op, request=request: remote.call(op, request))
                assert here == there, (op.name, here, there)
                if there[0] == "error":
                    assert there[1][1] < 500, (op.name, there)
        finally:
            local.close()
