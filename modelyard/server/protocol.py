"""Reading requests into declared schemas and writing MLflow-shaped JSON.

``endpoint(Schema)`` turns a plain function ``fn(service, body) -> dict`` into
an ASGI endpoint: it reads the query string (GET) or the JSON body, decodes it
into ``Schema`` with msgspec (which names the offending field on error), runs
``fn`` in the thread pool (the store is synchronous) and encodes the result.
"""

from __future__ import annotations

import contextlib
import mimetypes
import typing
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..errors import (
    InvalidParameterValue,
    MalformedRequest,
    ModelyardError,
    RequestTooLarge,
)
from ..web.request_body import receive_body
from . import bad_requests

S = TypeVar("S", bound=msgspec.Struct)
E = TypeVar("E", bound=Callable[..., Any])
_encoder = msgspec.json.Encoder()


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def _list_fields(schema: type[msgspec.Struct]) -> frozenset[str]:
    hints = typing.get_type_hints(schema)
    out = set()
    for name in schema.__struct_fields__:
        origin = typing.get_origin(hints[name])
        args = typing.get_args(hints[name])
        if origin is list or any(typing.get_origin(a) is list for a in args):
            out.add(name)
    return frozenset(out)


def decode_query(request: Request, schema: type[S]) -> S:
    lists = _list_fields(schema)
    data: dict[str, Any] = {}
    for key in request.query_params:
        data[key] = request.query_params.getlist(key) if key in lists else request.query_params[key]
    refuse_nul(request)
    try:
        return msgspec.convert(data, schema, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidParameterValue(bad_requests.decode_failure(exc, lambda: data)) from None


def refuse_nul(request: Request) -> None:
    """A 400 naming the path or query parameter that holds a NUL character (``%00``): no store's text
    can hold one everywhere. Free for most requests: the query string is searched for ``%00`` first."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise InvalidParameterValue(bad_requests.nul_message(name))
    if b"%00" in request.scope["query_string"]:
        for key, value in request.query_params.multi_items():
            if "\x00" in key or "\x00" in value:
                raise InvalidParameterValue(bad_requests.nul_message(key.replace("\x00", "\\u0000")))


def too_large(size: int, limit: int) -> ModelyardError:
    """A body over the server's limit: 413 REQUEST_LIMIT_EXCEEDED."""
    return RequestTooLarge(
        f"Request body of {size} bytes (or more) exceeds the server's limit of {limit} bytes: send less per"
        " request (split a batch), or start the server with a higher MODELYARD_MAX_REQUEST_BYTES."
    )


def batch_too_large(size: int, limit: int) -> ModelyardError:
    """A log-batch body over MLflow's limit: MLflow answers 400 INVALID_PARAMETER_VALUE, so do we."""
    return InvalidParameterValue(
        f"Batched logging API requests must be at most {limit} bytes, got a request of size {size}"
        " (or more). Split the batch into smaller requests."
    )


async def stream_body(
    request: Request, limit: int, on_too_large: Callable[[int, int], ModelyardError] = too_large
) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, refused with ``on_too_large`` once more than ``limit`` bytes came.

    A declared Content-Length over the limit is refused before anything is read;
    a chunked body is cut off as soon as it passes the limit, so no more than
    ``limit`` bytes plus one network chunk are ever held or passed on.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise on_too_large(int(declared), limit)
    seen = 0
    async with contextlib.aclosing(request.stream()) as chunks:
        async for chunk in chunks:
            seen += len(chunk)
            if seen > limit:
                raise on_too_large(seen, limit)
            if chunk:
                yield chunk


async def read_body(
    request: Request, limit: int, on_too_large: Callable[[int, int], ModelyardError] = too_large
) -> bytes:
    """The whole body, at most ``limit`` bytes (see :func:`receive_body`); ``request.body()`` returns it after."""
    body = await receive_body(request.scope, request.receive, limit, on_too_large)
    if body is None:
        raise ClientDisconnect()
    request._body = body  # what Request.body() caches, so later readers see the same bytes
    return body


def decode_body(
    body: bytes, schema: type[S], max_bytes: int, on_too_large: Callable[[int, int], ModelyardError] = too_large
) -> S:
    """``body`` (JSON) as ``schema``; a bad body is refused with a 400 naming the field.

    Besides what msgspec checks, refused: a string holding a NUL character (no store's text
    can hold one everywhere), and, where ``schema`` takes free-form JSON, nesting deeper than
    :data:`.bad_requests.MAX_JSON_DEPTH`. Both checks are one search of the bytes on a good body.
    """
    if len(body) > max_bytes:
        raise on_too_large(len(body), max_bytes)
    if not body.strip():
        body = b"{}"
    try:
        obj = msgspec.json.decode(body, type=schema, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidParameterValue(bad_requests.decode_failure(exc, lambda: msgspec.json.decode(body))) from None
    except msgspec.DecodeError as exc:
        raise MalformedRequest(f"Malformed JSON in request body: {exc}.") from None
    except RecursionError:
        raise InvalidParameterValue(bad_requests.too_deep(body) or bad_requests.deep_message("")) from None
    found = bad_requests.hidden_in(body, schema)
    if found:
        raise InvalidParameterValue(found)
    return obj


def accepts(schema: type[msgspec.Struct], query_methods: tuple[str, ...] = ("GET",), name: str = "") -> Callable[[E], E]:
    """Mark an endpoint with the struct it decodes: from the query string on ``query_methods``, else
    from a JSON body. The OpenAPI document (:mod:`.openapi`) is generated from these marks."""

    def mark(handle: E) -> E:
        handle.request_schema = schema  # type: ignore[attr-defined]
        handle.query_methods = query_methods  # type: ignore[attr-defined]
        if name:
            handle.__name__ = name
        return handle

    return mark


def endpoint(
    schema: type[S],
    fn: Callable[[Any, S], Any],
    *,
    max_bytes_setting: str = "max_request_bytes",
    on_too_large: Callable[[int, int], ModelyardError] = too_large,
    inline: bool = False,
) -> Callable[[Request], Any]:
    """An async endpoint that decodes ``schema`` and runs ``fn(service, request_obj)``.

    ``fn`` runs in the thread pool, or, for an ``inline`` endpoint (small, bounded
    work) when the service allows it, right on the event loop.

    A body over the ``max_bytes_setting`` limit is refused with ``on_too_large(size, limit)``
    before it is read when Content-Length says so, else as soon as the limit is passed.
    """

    async def handle(request: Request) -> Response:
        service = request.app.state.service
        if request.method == "GET":
            obj = decode_query(request, schema)
        else:
            limit = getattr(service.settings, max_bytes_setting)
            obj = decode_body(await read_body(request, limit, on_too_large), schema, limit, on_too_large)
        if inline and service.inline_small_requests:
            result = fn(service, obj)  # a few hundred microseconds: cheaper than a thread hop
        else:
            result = await run_in_threadpool(fn, service, obj)
        return JSONResponse({} if result is None else result)

    return accepts(schema, name=getattr(fn, "__name__", "endpoint"))(handle)


# Artifacts are user content: never let the browser run them as this site.
_ACTIVE_TYPES = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml",
                 "text/javascript", "application/javascript")
DOWNLOAD_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


def artifact_response(path: str, chunks: Any) -> Response:
    """Stream an artifact with a content type that cannot run script on our origin.

    Markup and script types are sent as plain text (as MLflow does), and every
    download carries a sandboxing CSP and ``nosniff``.
    """
    from starlette.concurrency import iterate_in_threadpool
    from starlette.responses import StreamingResponse

    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if media in _ACTIVE_TYPES:
        media = "text/plain"
    if media.startswith("text/"):
        media += "; charset=utf-8"
    return StreamingResponse(iterate_in_threadpool(chunks), media_type=media, headers=DOWNLOAD_HEADERS)
