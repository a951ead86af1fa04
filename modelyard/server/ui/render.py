"""Jinja2 environment, formatting filters and the page decorators of the web UI."""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...errors import InvalidParameterValue, ModelyardError, RequestTooLarge
from ...service import TrackingService
from ...service.caller import caller, workspace
from ...service.registry import acting_user
from ..auth import principal_of, require
from ..bad_requests import nul_message
from ..protocol import refuse_nul
from . import csrf
from .links import carried, carry_workspace, page_workspace, with_workspace

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


def _ts(ms: int | None) -> str:
    if ms is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def _ts_short(ms: int | None) -> str:
    """A date that fits a table cell: the time today, the day and time this year, else the date."""
    if ms is None:
        return "—"
    when, now = time.localtime(ms / 1000), time.localtime()
    if when[:3] == now[:3]:
        return time.strftime("%H:%M", when)
    if when.tm_year == now.tm_year:
        return time.strftime("%b %d %H:%M", when)
    return time.strftime("%Y-%m-%d", when)


def _iso(ms: int | None) -> str:
    return "" if ms is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ms / 1000))


def _duration(start: int | None, end: int | None) -> str:
    if start is None:
        return "—"
    seconds = ((end if end is not None else int(time.time() * 1000)) - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60)}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}m"


def _num(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.6g}"
    return "—" if value is None else str(value)


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text


def _qs(params: dict[str, Any], **changes: Any) -> str:
    """A query string from ``params`` with ``changes`` applied (None removes a key); lists repeat."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append((key, str(item)))
    return "?" + urlencode(pairs) if pairs else "?"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ts=_ts, ts_short=_ts_short, iso=_iso, num=_num, filesize=env.filters["filesizeformat"], prettyjson=_pretty_json)
    env.globals.update(duration=_duration, qs=_qs, tojson_attr=lambda v: json.dumps(v))
    return env


ENV = _environment()


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a whole page (htmx callers pick their part with ``hx-select``)."""
    tpl = ENV.get_template(template)
    context.setdefault("request", request)
    context.setdefault("htmx", is_htmx(request))
    context.setdefault("current_user", principal_of(request))
    html = carry_workspace(tpl.render(csrf_token=csrf.token(request), **context), carried(request))
    response = HTMLResponse(html, status_code=status, headers={"Vary": "HX-Request"})
    csrf.set_cookie(request, response)
    return response


def render_fragment(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = ENV.get_template(template).render(request=request, htmx=True, csrf_token=csrf.token(request), **context)
    html = carry_workspace(html, carried(request))
    response = HTMLResponse(html, status_code=status)
    csrf.set_cookie(request, response)
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def service(request: Request) -> TrackingService:
    svc: TrackingService = request.app.state.service
    return svc


def error_page(request: Request, exc: ModelyardError) -> HTMLResponse:
    return render(request, "error.html", status=exc.status, error=exc)


# What a page or form needs: (level, resource kind, the path parameter naming the resource).
Need = tuple[str, str, str]


def _check(request: Request, need: Need | None) -> None:
    if need is not None:
        level, kind, param = need
        require(request, level, kind, request.path_params.get(param) if param else None)


def _guarded(fn: Callable[..., Response], need: Need | None) -> Callable[..., Response]:
    """``fn`` once the caller holds ``need``, run as the caller: searches show what they may read (filtered in
    SQL), the audit trail names them."""

    def run(request: Request, *args: Any) -> Response:
        # Names in the page's path are of the workspace its ?workspace= (or X-MLFLOW-WORKSPACE) names, else default.
        in_workspace = workspace.set(page_workspace(request))
        try:
            _check(request, need)
            principal = principal_of(request)
            if principal is None:
                return fn(request, *args)
            as_caller, as_user = caller.set(principal), acting_user.set(principal.username)
            try:
                return fn(request, *args)
            finally:
                acting_user.reset(as_user)
                caller.reset(as_caller)
        finally:
            workspace.reset(in_workspace)

    return run


def page(fn: Callable[[Request], Response], need: Need | None = None) -> Callable[[Request], Awaitable[Response]]:
    """A GET page: ``fn`` runs in a worker thread, once the caller holds ``need`` (403 page otherwise);
    a modelyard error becomes an error page, not JSON."""
    run = _guarded(fn, need)

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        try:
            refuse_nul(request)
            return await run_in_threadpool(run, request)
        except ModelyardError as exc:
            return error_page(request, exc)

    return endpoint


FormHandler = Callable[[Request, FormData], Response]
MAX_FORM_BYTES = 1024 * 1024


async def read_form(request: Request) -> FormData:
    """An ``application/x-www-form-urlencoded`` body (our forms send nothing else; no multipart parser needed)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise RequestTooLarge(f"A form may hold at most {MAX_FORM_BYTES} bytes.")
    refuse_nul(request)
    fields: list[tuple[str, str | UploadFile]] = list(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    for name, value in fields:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidParameterValue(nul_message(name))
    return FormData(fields)


def action(fn: FormHandler, need: Need | None = None) -> Callable[[Request], Awaitable[Response]]:
    """A form POST: the body is read here and its CSRF token checked (:mod:`.csrf`; 403 without a
    valid one), then the caller's permission (``need``), then ``fn`` runs in a worker thread with it.

    ``fn`` raises :class:`ModelyardError` for its own inline error handling or
    returns a response; errors it leaves become an error page.
    """

    run = _guarded(fn, need)

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        form = await read_form(request)
        try:
            csrf.check(request, form)
            return await run_in_threadpool(run, request, form)
        except ModelyardError as exc:
            return error_page(request, exc)

    return endpoint


def done(request: Request, url: str) -> Response:
    """After a successful form POST: htmx follows ``HX-Location``-less redirects itself, browsers get a 303;
    either way to ``url`` in the page's workspace."""
    url = with_workspace(url, carried(request))
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def inline_status(request: Request) -> int:
    """Status for a page or fragment that shows an inline error: htmx swaps only what it gets, so 200 there."""
    return 200 if is_htmx(request) else 400
