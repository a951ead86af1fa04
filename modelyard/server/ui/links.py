"""Links that stay in a page's workspace.

A page opened in a workspace other than ``default`` (``/models/churn?workspace=prod``, or with the
``X-MLFLOW-WORKSPACE`` header) resolves the names in its path there. Every link of the page must
keep ``workspace=prod``, or a user browsing prod lands on default's model of the same name. Rather
than each template building its links with it, the rendered page is passed once through
:func:`carry_workspace`: every same-site URL in an ``href``, ``action`` or ``hx-*`` attribute gains
``workspace=<name>`` (unless it names one already), and every GET form gains a hidden ``workspace``
field (a browser replaces a GET form's query string with its fields). Redirects after a form go
through :func:`with_workspace`. Static files are left alone. The page's ``<body>`` gets
``data-workspace=<name>``: the links its scripts build (``static/app.js``'s ``modelyardLink``) carry it too.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request

from ...errors import ModelyardError
from ...service.caller import DEFAULT_WORKSPACE
from ...service.workspaces import check_name
from ..operations import WORKSPACE_HEADER

# A same-site URL (``/path``, not ``//host``; or a bare ``?query``) in an attribute that navigates or loads.
_ATTRIBUTE = re.compile(r'(\s(?:href|action|hx-get|hx-post|hx-put|hx-patch|hx-delete)=")((?:/(?!/)|\?)[^"]*)"')
_FORM = re.compile(r"<form\b[^>]*>", re.IGNORECASE)
_POST = re.compile(r"""\smethod=["']?post\b""", re.IGNORECASE)
_NAMED = re.compile(r"[?&;]workspace=")
_BODY = re.compile(r"<body\b", re.IGNORECASE)


def page_workspace(request: Request) -> str | None:
    """The workspace a page's names are resolved in: its ``?workspace=``, else the ``X-MLFLOW-WORKSPACE``
    header, checked; None when it names none."""
    named = (request.query_params.get("workspace") or request.headers.get(WORKSPACE_HEADER, "")).strip()
    return check_name(named) if named else None


def carried(request: Request) -> str | None:
    """The workspace a page's links must carry: its own, unless that is the default one (or not a valid name:
    the page says so)."""
    try:
        named = page_workspace(request)
    except ModelyardError:  # not a workspace name: the page is an error page about it
        return None
    return None if named in (None, DEFAULT_WORKSPACE) else named


def with_workspace(url: str, workspace: str | None, amp: str = "&") -> str:
    """``url`` with ``workspace=<workspace>`` in its query (before any ``#fragment``); unchanged for a URL that
    names a workspace already, a static file, or no workspace to carry."""
    if workspace is None or url.startswith("/static/") or _NAMED.search(url.partition("#")[0]):
        return url
    path, hash_, fragment = url.partition("#")
    if "?" not in path:
        sep = "?"
    elif path.endswith(("?", "&", amp)):
        sep = ""
    else:
        sep = amp
    return f"{path}{sep}workspace={quote(workspace)}{hash_}{fragment}"


def carry_workspace(html: str, workspace: str | None) -> str:
    """``html`` (a rendered page or fragment) with every same-site link and GET form kept in ``workspace``."""
    if workspace is None:
        return html
    hidden = f'<input type="hidden" name="workspace" value="{quote(workspace)}">'

    def link(match: re.Match[str]) -> str:
        return f'{match.group(1)}{with_workspace(match.group(2), workspace, "&amp;")}"'

    def form(match: re.Match[str]) -> str:
        tag = match.group(0)
        return tag if _POST.search(tag) else tag + hidden

    html = _BODY.sub(f'<body data-workspace="{quote(workspace)}"', html, count=1)
    return _FORM.sub(form, _ATTRIBUTE.sub(link, html))
