"""The runs table of an experiment: search, sort, columns, nesting, paging (charts: ``charts.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...api.tracking import DELETE_RUN, DELETE_TAG, RESTORE_RUN, SET_TAG
from ...entities import Run, RunTag, ViewType
from ...errors import InvalidParameterValue, ModelyardError
from ...service import TrackingService
from ...service.search import decode_page_token, encode_page_token
from ...service.search_hint import unknown_keys
from ..auth import require
from .links import carried, with_workspace
from .render import inline_status, render, service

PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 50
DEFAULT_ORDER = "attributes.start_time DESC"
PARENT_TAG = "mlflow.parentRunId"
MAX_CHILDREN = 1000
DEFAULT_KEY_COLUMNS = 5
MAX_BULK_RUNS = 250
COLUMNS_COOKIE = "modelyard_columns_"
GROUP_COOKIE = "modelyard_group_"
"""Prefix of the cookie (one per experiment, path ``/experiments/<id>``) remembering what its runs are
grouped by (``params:KEY`` or ``tags:KEY``); the chart board reads and sets the same one."""
NO_GROUP = "-"
"""Prefix of the cookie (one per experiment, path ``/experiments/<id>``) remembering its chosen columns."""
MAX_REMEMBERED_BYTES = 3000
DEFAULT_COLUMNS = "default"
_PLAIN_KEY = re.compile(r"[\w.]+")
_KIND_PREFIX = {"metrics": "metrics", "params": "params", "tags": "tags"}

# (label, order_by key or None when the column cannot be sorted)
FIXED_COLUMNS = (
    ("Run name", "attributes.run_name"),
    ("Created", "attributes.start_time"),
    ("Duration", None),
    ("Status", "attributes.status"),
    ("User", "attributes.user_id"),
    ("Source", "tags.`mlflow.source.name`"),
    ("Dataset", None),
    ("Models", None),
)


def order_key(kind: str, key: str) -> str:
    """``metrics.rmse`` or ``metrics.`val-loss``` as the order_by grammar wants it."""
    return f"{kind}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{kind}.`{key}`"


@dataclass
class Row:
    run: Run
    depth: int = 0
    children: list[Row] = field(default_factory=list)
    orphan_of: str | None = None


@dataclass
class Group:
    """Runs of the page sharing a value of the grouping param or tag (None: runs without it)."""
    value: str | None
    rows: list[Row]

    @property
    def count(self) -> int:
        return len(self.rows)


def group_token(raw: str | None) -> str | None:
    """A valid grouping (``params:KEY`` or ``tags:KEY``), else None."""
    kind, _, key = (raw or "").partition(":")
    return f"{kind}:{key}" if kind in ("params", "tags") and key else None


def group_rows(rows: list[Row], token: str) -> list[Group]:
    """The rows in groups by the token's value, in the order the groups first appear."""
    kind, _, key = token.partition(":")
    groups: dict[str | None, Group] = {}
    for row in rows:
        data = row.run.data.params if kind == "params" else row.run.data.tags
        value = data.get(key)
        groups.setdefault(value, Group(value, [])).rows.append(row)
    return list(groups.values())


@dataclass
class Column:
    kind: str  # metrics | params | tags
    key: str

    @property
    def token(self) -> str:
        return f"{self.kind}:{self.key}"

    @property
    def order(self) -> str:
        return order_key(self.kind, self.key)

    def value(self, run: Run) -> Any:
        data = run.data.metrics if self.kind == "metrics" else run.data.params if self.kind == "params" else run.data.tags
        return data.get(self.key)


def _columns(tokens: list[str], runs: list[Run]) -> list[Column]:
    chosen = [t for t in tokens if t and t != "-"]
    if tokens:
        out = []
        for token in chosen:
            kind, _, key = token.partition(":")
            if kind in _KIND_PREFIX and key:
                out.append(Column(kind, key))
        return out
    metrics = sorted({k for r in runs for k in r.data.metrics if not k.startswith("system/")})
    params = sorted({k for r in runs for k in r.data.params})
    return [Column("metrics", k) for k in metrics[:DEFAULT_KEY_COLUMNS]] + [
        Column("params", k) for k in params[:DEFAULT_KEY_COLUMNS]
    ]


def _available(runs: list[Run], columns: list[Column]) -> dict[str, list[str]]:
    found = {
        "metrics": {k for r in runs for k in r.data.metrics},
        "params": {k for r in runs for k in r.data.params},
        "tags": {k for r in runs for k in r.data.tags if not k.startswith("mlflow.")},
    }
    for c in columns:
        found[c.kind].add(c.key)
    return {kind: sorted(keys) for kind, keys in found.items()}


def _and(*clauses: str) -> str | None:
    parts = [c.strip() for c in clauses if c and c.strip()]
    return " AND ".join(parts) or None


def _page(svc: TrackingService, experiment_id: str, q: str, order: str, size: int, token: str | None,
          group: bool, view_type: str = ViewType.ACTIVE_ONLY, group_by: str | None = None) -> tuple[list[Row], str | None]:
    orders = [order]
    if group_by:  # a group's runs come together, page after page
        kind, _, key = group_by.partition(":")
        first = order_key(kind, key)
        if first != order.rsplit(" ", 1)[0]:
            orders.insert(0, first)
    if not group:
        page = svc.runs.search([experiment_id], q or None, run_view_type=view_type, max_results=size,
                               order_by=orders, page_token=token)
        return [Row(r) for r in page.items], page.next_page_token
    page = svc.runs.search([experiment_id], _and(q, f"tags.`{PARENT_TAG}` IS NULL"), run_view_type=view_type,
                           max_results=size, order_by=orders, page_token=token)
    rows = {r.info.run_id: Row(r) for r in page.items}
    if not rows:
        return [], page.next_page_token
    # Children of this page's parents: one bounded query over runs started since the oldest parent
    # shown (a child starts after its parent), attached where their parent is on the page.
    since = min(r.info.start_time or 0 for r in page.items)
    children = svc.runs.search([experiment_id], _and(q, f"tags.`{PARENT_TAG}` IS NOT NULL",
                                                     f"attributes.start_time >= {since}"),
                               run_view_type=view_type, max_results=MAX_CHILDREN, order_by=[order])
    for child in children.items:
        parent = rows.get(child.data.tags.get(PARENT_TAG, ""))
        if parent is not None:
            parent.children.append(Row(child, depth=1))
    return list(rows.values()), page.next_page_token


def _models(svc: TrackingService, runs: list[Run]) -> dict[str, list[tuple[str, str]]]:
    ids = [r.info.run_id for r in runs]
    if not ids:
        return {}
    quoted = ", ".join(f"'{i}'" for i in ids)
    found = svc.registry.search_model_versions(f"run_id IN ({quoted})", max_results=1000)
    out: dict[str, list[tuple[str, str]]] = {}
    for mv in found.items:
        out.setdefault(mv.run_id or "", []).append((mv.name, mv.version))
    return out


def _size(raw: str | None) -> int:
    try:
        value = int(raw or DEFAULT_PAGE_SIZE)
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return value if value in PAGE_SIZES else DEFAULT_PAGE_SIZE


def _cookie_name(experiment_id: str) -> str:
    return f"{COLUMNS_COOKIE}{experiment_id}"


def _column_tokens(request: Request, qp: QueryParams, experiment_id: str) -> tuple[list[str], str | None]:
    """The chosen columns (``col`` in the query, else the ones remembered for this experiment) and
    what to remember now: the encoded choice, "" to forget it, or None to leave the cookie alone."""
    given = qp.getlist("col")
    if given == [DEFAULT_COLUMNS]:
        return [], ""
    if given:
        encoded = urlencode([("col", t) for t in given])
        return given, encoded if len(encoded) <= MAX_REMEMBERED_BYTES else None
    remembered = request.cookies.get(_cookie_name(experiment_id), "")
    return [v for k, v in parse_qsl(remembered) if k == "col"], None


def _group_choice(request: Request, qp: QueryParams, experiment_id: str) -> tuple[str | None, str | None]:
    """The grouping (``groupby`` in the query, else the one remembered for this experiment) and what
    to remember now: the token, "" to forget it, or None to leave the cookie alone."""
    given = qp.get("groupby")
    if given is not None:
        token = group_token(given)
        return token, token or ""
    return remembered_group(request, experiment_id), None


def remembered_group(request: Request, experiment_id: str) -> str | None:
    """The grouping remembered for the experiment in this browser (set here or by the chart board's
    script, which %-encodes it)."""
    return group_token(unquote(request.cookies.get(f"{GROUP_COOKIE}{experiment_id}", "")))


def remember_group(response: Response, experiment_id: str, token: str) -> None:
    """Remember (or, with "", forget) the experiment's grouping in this browser."""
    path, name = f"/experiments/{experiment_id}", f"{GROUP_COOKIE}{experiment_id}"
    if token:
        # Not HttpOnly: the chart board's script sets it when its grouping changes.
        response.set_cookie(name, token, max_age=365 * 86400, path=path, samesite="lax")
    else:
        response.delete_cookie(name, path=path)


def experiment_page(request: Request, *, query: QueryParams | None = None, notice: dict[str, Any] | None = None,
                    status: int = 200) -> Response:
    svc = service(request)
    experiment = svc.experiments.get(request.path_params["experiment_id"])
    qp = request.query_params if query is None else query
    if qp.get("view") == "chart":  # the chart view is the chart board now: old links land there
        pairs = [("q", qp.get("q", ""))] if qp.get("q") else []
        chart_query = urlencode(pairs + [("run", r) for r in qp.getlist("run")])
        return RedirectResponse(with_workspace(f"/experiments/{experiment.experiment_id}/charts"
                                               + (f"?{chart_query}" if chart_query else ""), carried(request)),
                                status_code=303)
    q = qp.get("q", "")
    order = qp.get("order") or DEFAULT_ORDER
    size = _size(qp.get("n"))
    token = qp.get("page_token") or None
    group = qp.get("group") == "1"
    show = "deleted" if qp.get("show") == "deleted" else "active"
    tokens, remember = _column_tokens(request, qp, experiment.experiment_id)
    group_by, remember_grouping = _group_choice(request, qp, experiment.experiment_id)
    params: dict[str, Any] = {
        "q": q or None, "order": None if order == DEFAULT_ORDER else order, "n": None if size == DEFAULT_PAGE_SIZE else size,
        "group": "1" if group else None, "col": qp.getlist("col"), "show": None if show == "active" else show,
        "groupby": group_by,
    }
    rows: list[Row] = []
    next_token, error = None, None
    view_type = ViewType.DELETED_ONLY if show == "deleted" else ViewType.ACTIVE_ONLY
    try:
        rows, next_token = _page(svc, experiment.experiment_id, q, order, size, token, group, view_type, group_by)
    except ModelyardError as exc:
        error = exc.message
    all_runs = [r.run for r in rows] + [c.run for r in rows for c in r.children]
    columns = _columns(tokens, all_runs)
    hints: list[str] = []
    if q and not rows and not error and not token:  # why nothing matched: a metric or param no run has
        try:
            hints = unknown_keys(svc.runs.search, [experiment.experiment_id], q)
        except ModelyardError:
            hints = []
    offset = decode_page_token(token) if token and not error else 0
    prev_token = None if offset == 0 else (encode_page_token(offset - size) if offset > size else "")
    response = render(
        request, "experiment.html", status=inline_status(request) if error else status, section="experiments",
        experiment=experiment, rows=rows, columns=columns, available=_available(all_runs, columns),
        fixed_columns=FIXED_COLUMNS, models=_models(svc, all_runs) if not error else {},
        q=q, order=order, size=size, sizes=PAGE_SIZES, group=group, view="table", error=error,
        next_token=next_token, prev_token=prev_token, offset=offset, params=params,
        parent_tag=PARENT_TAG, show=show, notice=notice, tokens=tokens, hints=hints,
        group_by=group_by, groups=group_rows(rows, group_by) if group_by else None,
    )
    if remember_grouping is not None:
        remember_group(response, experiment.experiment_id, remember_grouping)
    if remember is not None:
        path = f"/experiments/{experiment.experiment_id}"
        if remember:
            response.set_cookie(_cookie_name(experiment.experiment_id), remember, max_age=365 * 86400, path=path,
                                httponly=True, samesite="lax")
        else:
            response.delete_cookie(_cookie_name(experiment.experiment_id), path=path)
    return response


def _selected(form: FormData) -> list[str]:
    ids = list(dict.fromkeys(str(v) for v in form.getlist("run") if v))
    if not ids:
        raise InvalidParameterValue("No run selected: tick the box at the start of each run's row first.")
    if len(ids) > MAX_BULK_RUNS:
        raise InvalidParameterValue(f"Select at most {MAX_BULK_RUNS} runs at once (got {len(ids)}).")
    return ids


def _back(request: Request, form: FormData) -> QueryParams:
    """The table's own query (filter, order, columns...) from the form's ``next`` link, to show it again."""
    experiment_id = request.path_params["experiment_id"]
    url = urlsplit(str(form.get("next") or ""))
    return QueryParams(url.query if url.path == f"/experiments/{experiment_id}" else "")


def _set_lifecycle(request: Request, form: FormData, deleting: bool) -> Response:
    """Delete or restore the selected runs of this experiment, all or none, as the table's operations
    ``delete_run`` and ``restore_run`` would (their permission on each run), then show the table with
    a notice (and, after a delete, a button that undoes it)."""
    svc = service(request)
    experiment_id = request.path_params["experiment_id"]
    op = DELETE_RUN if deleting else RESTORE_RUN
    query = _back(request, form)
    for rid in dict.fromkeys(str(v) for v in form.getlist("run") if v):  # a denied run is a 403 page, not a notice
        require(request, op.permission.level, "run", rid)
    try:
        run_ids = _selected(form)
        runs = [svc.runs.get(rid) for rid in run_ids]
        strangers = [r.info.run_id for r in runs if r.info.experiment_id != experiment_id]
        if strangers:
            raise InvalidParameterValue(f"Run {strangers[0]} is not in experiment {experiment_id}: "
                                        "delete or restore it from its own experiment.")
        with svc.unit_of_work():
            for rid in run_ids:
                (svc.runs.delete if deleting else svc.runs.restore)(rid)
    except ModelyardError as exc:
        return experiment_page(request, query=query, status=inline_status(request),
                               notice={"error": exc.message})
    names = [r.info.run_name or r.info.run_id for r in runs]
    return experiment_page(request, query=query, notice={
        "deleted" if deleting else "restored": run_ids, "names": names,
    })


def delete_runs(request: Request, form: FormData) -> Response:
    return _set_lifecycle(request, form, deleting=True)


def restore_runs(request: Request, form: FormData) -> Response:
    return _set_lifecycle(request, form, deleting=False)


def _runs_of(request: Request, form: FormData) -> list[Run]:
    """The selected runs (at least one, at most :data:`MAX_BULK_RUNS`), all in this experiment."""
    svc = service(request)
    experiment_id = request.path_params["experiment_id"]
    runs = [svc.runs.get(rid) for rid in _selected(form)]
    strangers = [r.info.run_id for r in runs if r.info.experiment_id != experiment_id]
    if strangers:
        raise InvalidParameterValue(f"Run {strangers[0]} is not in experiment {experiment_id}: "
                                    "act on it from its own experiment.")
    return runs


def tag_runs(request: Request, form: FormData) -> Response:
    """Add a tag to the selected runs (``mode=add``, as ``set_tag`` on each, EDIT) or remove it from
    those that have it (``mode=remove``, as ``delete_tag``), all or none; then the table with a notice."""
    svc = service(request)
    query = _back(request, form)
    mode = str(form.get("mode") or "add")
    key, value = str(form.get("key") or "").strip(), str(form.get("value") or "")
    op = SET_TAG if mode == "add" else DELETE_TAG
    for rid in dict.fromkeys(str(v) for v in form.getlist("run") if v):  # a denied run is a 403 page, not a notice
        require(request, op.permission.level, "run", rid)
    try:
        if mode not in ("add", "remove"):
            raise InvalidParameterValue(f"mode must be 'add' or 'remove', not {mode!r}.")
        if not key:
            raise InvalidParameterValue("Name the tag: fill in Key (and Value to add it).")
        runs = _runs_of(request, form)
        touched = [r for r in runs if mode == "add" or key in r.data.tags]
        with svc.unit_of_work():
            for r in touched:
                if mode == "add":
                    svc.runs.set_tag(r.info.run_id, RunTag(key, value))
                else:
                    svc.runs.delete_tag(r.info.run_id, key)
    except ModelyardError as exc:
        return experiment_page(request, query=query, status=inline_status(request), notice={"error": exc.message})
    return experiment_page(request, query=query, notice={
        "tagged" if mode == "add" else "untagged": [r.info.run_id for r in touched],
        "names": [r.info.run_name or r.info.run_id for r in touched], "key": key, "value": value,
    })
