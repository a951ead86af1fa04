"""The server's OpenAPI 3.1 document, generated from its route declarations.

Every :class:`~starlette.routing.Route` the app declares becomes an operation.
An endpoint made by :func:`.protocol.endpoint` (or marked with
:func:`.protocol.accepts`) carries the msgspec struct it decodes: its fields
become query parameters for the methods that read the query (GET), else a JSON
request body, and the struct's JSON Schema comes from
``msgspec.json.schema_components``. Path parameters come from the route's own
convertors (``{part_number:int}`` is an integer). The ``/ajax-api`` twins of the
``/api`` routes are the same operations and are left out (see
:func:`api_twin`). Nothing here is written by hand per route, so a new route is
in the document the moment it is declared.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec
from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.routing import BaseRoute, Route

REF = "#/components/schemas/{name}"
ERROR = {
    "type": "object",
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error_code", "message"],
}
_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
_NOT_ID = re.compile(r"[^A-Za-z0-9]+")


def api_twin(path: str) -> str:
    """The ``/api`` route an ``/ajax-api`` route doubles (the path itself for any other)."""
    return "/api/" + path[len("/ajax-api/"):] if path.startswith("/ajax-api/") else path


def request_schema(endpoint: Any) -> tuple[type[msgspec.Struct] | None, tuple[str, ...]]:
    """The struct an endpoint decodes and the methods on which it reads it from the query."""
    return getattr(endpoint, "request_schema", None), getattr(endpoint, "query_methods", ("GET",))


def build(routes: Iterable[BaseRoute], title: str, version: str) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (an app's ``app.routes``)."""
    declared = [r for r in routes if isinstance(r, Route)]
    listed = {r.path for r in declared}
    kept = [r for r in declared if api_twin(r.path) == r.path or api_twin(r.path) not in listed]
    structs = sorted({s for r in kept if (s := request_schema(r.endpoint)[0]) is not None}, key=_qualname)
    refs, components = msgspec.json.schema_components(structs, ref_template=REF)
    ref_of = dict(zip(structs, refs))
    paths: dict[str, dict[str, Any]] = {}
    for route in kept:
        template = _PARAM.sub(r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(template, {})[method.lower()] = _operation(route, method, template, ref_of, components)
    components["Error"] = ERROR
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "MLflow's REST API (/api/2.0/mlflow, /api/2.0/mlflow-artifacts) and modelyard's"
            " extensions (/api/2.0/modelyard). Every /api route is also served under /ajax-api.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


def _qualname(struct: type) -> str:
    return f"{struct.__module__}.{struct.__qualname__}"


def _operation(
    route: Route, method: str, template: str, ref_of: dict[type, Any], components: dict[str, Any]
) -> dict[str, Any]:
    struct, query_methods = request_schema(route.endpoint)
    params = [_path_param(name, conv) for name, conv in route.param_convertors.items()]
    op: dict[str, Any] = {
        "operationId": _NOT_ID.sub("_", f"{method.lower()} {template}").strip("_"),
        "tags": [_tag(route.path)],
        "responses": {
            "200": {"description": "Success"},
            "default": {
                "description": "An error: MLflow's error code and a message naming the field",
                "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}},
            },
        },
    }
    if struct is not None:
        op["responses"]["200"]["content"] = {"application/json": {"schema": {"type": "object"}}}
        ref = ref_of[struct]
        if method in query_methods:
            taken = {p["name"] for p in params}
            params += [p for p in _query_params(components, ref) if p["name"] not in taken]
        else:
            op["requestBody"] = {"content": {"application/json": {"schema": ref}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, convertor: Any) -> dict[str, Any]:
    if isinstance(convertor, IntegerConvertor):
        schema: dict[str, Any] = {"type": "integer", "minimum": 0}
    elif isinstance(convertor, FloatConvertor):
        schema = {"type": "number", "minimum": 0}
    else:
        schema = {"type": "string", "minLength": 1}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_params(components: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
    """A struct's scalar and list-of-scalar fields as query parameters (``null`` cannot be sent)."""
    struct = components[ref["$ref"].rsplit("/", 1)[-1]]
    required = set(struct.get("required", ()))
    out = []
    for name, schema in struct.get("properties", {}).items():
        schema = _without_null(schema)
        if schema is None:
            continue
        out.append({"name": name, "in": "query", "required": name in required, "schema": schema})
    return out


_SCALARS = {"string", "integer", "number", "boolean"}


def _without_null(schema: dict[str, Any]) -> dict[str, Any] | None:
    """``schema`` without its ``null`` alternative, or None if it is not a query string's kind of value."""
    options = schema.get("anyOf", [schema])
    kept = [{k: v for k, v in o.items() if k != "default"} for o in options if o.get("type") != "null"]
    if not kept or not all(_is_scalar(o) or (o.get("type") == "array" and _is_scalar(o.get("items", {})))
                           for o in kept):
        return None
    return kept[0] if len(kept) == 1 else {"anyOf": kept}


def _is_scalar(schema: dict[str, Any]) -> bool:
    if "anyOf" in schema:
        return all(_is_scalar(o) for o in schema["anyOf"])
    return schema.get("type") in _SCALARS or "enum" in schema


def _tag(path: str) -> str:
    path = api_twin(path)
    for prefix, tag in (
        ("/api/2.0/mlflow-artifacts", "mlflow-artifacts"),
        ("/api/2.0/mlflow", "mlflow"),
        ("/api/3.0/mlflow", "mlflow"),
        ("/api/2.0/modelyard", "modelyard"),
    ):
        if path.startswith(prefix):
            return tag
    return "pages" if path not in ("/health", "/version", "/openapi.json") else "meta"
