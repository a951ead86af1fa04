"""The table of operations: every call of the REST API, declared once.

An :class:`Operation` names its HTTP method and path (each ``/api/...`` path also answers under
``/ajax-api/...``, as MLflow's UI calls it), its request struct (:mod:`.schemas`), the handler that
runs it (a dotted path, imported only when first called, so a client that talks HTTP never imports
the service), whether a lost answer may be asked again (``idempotent``) and the permission it
needs. Everything else is generated from this table:

- the server's routes (``modelyard.server.operations``), the hot path's small writes among them;
- the SDK's two transports (``modelyard.client.transport``): in process, ``call(op, request)``
  runs the handler on the service; over HTTP it sends the request to ``op.path``;
- the OpenAPI document and the REST reference of the docs.

A handler is ``fn(service, request) -> dict | None``: the answer exactly as the REST API sends it
(MLflow's JSON), so both transports hand the SDK the same thing.

Routes that are not operations — the web UI's pages, artifact streams, ``/health``, ``/metrics``,
``/openapi.json`` — are declared by their own route modules.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

Level = Literal["READ", "EDIT", "MANAGE"]
LEVELS: tuple[Level, ...] = ("READ", "EDIT", "MANAGE")
RANK_OF = {"READ": 1, "EDIT": 2, "MANAGE": 3}  # a higher level includes the lower ones

# What a permission is held on. ``server``: the deployment as a whole (listing experiments, creating
# one, the pipeline scheduler); the others name the resource the request's field points at.
Resource = Literal[
    "server", "experiment", "run", "registered_model", "logged_model", "trace", "webhook", "pipeline", "inference",
    "dataset", "monitor", "monitor_result", "monitor_alert", "workspace",
]

API = "/api/2.0/mlflow"
EXT = "/api/2.0/modelyard"
AJAX_PREFIX = "/ajax-api/"


class Permission(msgspec.Struct, frozen=True):
    """What a caller must hold to run an operation: ``level`` on the ``resource`` named by ``field``.

    ``field`` is the request field (or path parameter) that names the resource — ``experiment_id``,
    ``run_id``, ``name`` of a registered model... — or None where the resource is the server. A dotted
    path names a field inside a nested object (``trace.trace_info.trace_location.mlflow_experiment.experiment_id``).

    ``absent_means_every``: a request that leaves ``field`` out asks for every resource's rows (served requests
    of every model), so only admins may leave it out; anyone else gets ``PERMISSION_DENIED`` naming the field.
    """

    level: Level
    resource: Resource
    field: str | None = None
    absent_means_every: bool = False


def read(resource: Resource = "server", field: str | None = None, *, absent_means_every: bool = False) -> Permission:
    return Permission("READ", resource, field, absent_means_every)


def edit(resource: Resource = "server", field: str | None = None) -> Permission:
    return Permission("EDIT", resource, field)


def manage(resource: Resource = "server", field: str | None = None) -> Permission:
    return Permission("MANAGE", resource, field)


_PATH_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


@dataclass(frozen=True)
class Operation:
    """One call of the API. See the module's docstring."""

    name: str
    method: str
    path: str
    request: type[msgspec.Struct]
    handler: str
    permission: Permission
    # Whether asking again after a lost answer does no harm: reads, and writes that set a value.
    # A call that creates something (a run, a version) is retried only when it was never sent.
    idempotent: bool = False
    # Other methods the server also accepts on the path (MLflow's GET and POST twins); the SDK sends ``method``.
    also: tuple[str, ...] = ()
    # Where the request's fields travel: the query string (GET, and DELETEs that MLflow reads so), else a JSON body.
    query: bool | None = None
    ajax: bool = True  # also under /ajax-api (an /api path)
    # The same operation under other paths too (MLflow serves some trace calls under 2.0 and 3.0).
    alt: tuple[str, ...] = ()
    # The settings field of the body limit, and which error a body over it gets ("too_large": 413, "batch": 400).
    max_bytes_setting: str = "max_request_bytes"
    too_large: Literal["too_large", "batch"] = "too_large"
    inline: bool = False  # small, bounded work: run on the event loop when the service allows it
    hot: bool = False  # one of MLflow's small writes the hot path answers (server/hotpath.py)
    summary: str = ""
    status: int = 200  # the status of a success (MLflow's workspace API answers 201 and 204)
    path_params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_params", tuple(m.group(1) for m in _PATH_PARAM.finditer(self.path)))
        if self.query is None:
            object.__setattr__(self, "query", self.method == "GET")

    @property
    def methods(self) -> tuple[str, ...]:
        return (self.method, *self.also)

    @property
    def paths(self) -> tuple[str, ...]:
        """The path and its other paths (``alt``), each with its /ajax-api twin."""
        out: list[str] = []
        for path in (self.path, *self.alt):
            out.append(path)
            if self.ajax and path.startswith("/api/"):
                out.append(AJAX_PREFIX + path[len("/api/"):])
        return tuple(out)

    def url_path(self, values: dict[str, Any]) -> str:
        """The path with its parameters filled in from ``values`` (quoted; a ``:path`` parameter keeps its slashes)."""
        from urllib.parse import quote

        def fill(m: re.Match[str]) -> str:
            value = str(values.get(m.group(1)) or "")
            return quote(value, safe="/" if m.group(2) == "path" else "")

        return _PATH_PARAM.sub(fill, self.path)

    def resolve(self) -> Callable[[Any, Any], Any]:
        """The handler function (imported on first use)."""
        fn = _HANDLERS.get(self.handler)
        if fn is None:
            module, _, attr = self.handler.partition(":")
            fn = getattr(importlib.import_module(module), attr)
            _HANDLERS[self.handler] = fn
        return fn


_HANDLERS: dict[str, Callable[[Any, Any], Any]] = {}


class Table:
    """The operations of one area, in order; ``Table.all()`` is every area's."""

    areas: list[Table] = []  # noqa: RUF012 - one registry for the process

    def __init__(self, area: str, handlers: str) -> None:
        self.area = area
        self.handlers = handlers  # the module the handler names are relative to
        self.ops: list[Operation] = []
        Table.areas.append(self)

    def add(self, name: str, method: str, path: str, request: type[msgspec.Struct], handler: str,
            permission: Permission, **options: Any) -> Operation:
        op = Operation(name, method, path, request, f"{self.handlers}.{handler}", permission, **options)
        self.ops.append(op)
        return op

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.ops)


def all_operations() -> list[Operation]:
    """Every declared operation (importing each area's table)."""
    from . import AREAS

    for area in AREAS:
        importlib.import_module(f"{__package__}.{area}")
    return [op for table in Table.areas for op in table]
