"""What the CLI commands share: the common options, SDK errors as one line, tables and JSON.

Every data command takes ``--tracking-uri`` and ``--json``; an SDK error
(:class:`~modelyard.errors.ModelyardError`) is printed as ``Error: <message>``
with exit code 1, never as a traceback.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..entities import ViewType
from ..errors import ModelyardError

if TYPE_CHECKING:
    from ..client.client import Client

F = TypeVar("F", bound=Callable[..., Any])


# ---- commands that turn SDK errors into one clean line ------------------------


class _CleanErrors:
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except ModelyardError as exc:
            raise click.ClickException(exc.message) from exc


class SdkCommand(_CleanErrors, click.Command):
    """A command whose :class:`ModelyardError` prints as ``Error: <message>`` (exit 1)."""


class SdkGroup(_CleanErrors, click.Group):
    """A group whose subcommands print :class:`ModelyardError` as ``Error: <message>`` (exit 1)."""

    command_class = SdkCommand


# ---- common options -----------------------------------------------------------


def tracking_uri_option(fn: F) -> F:
    return click.option(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="http(s)://host:port, a store folder or a database URI. "
        "Default: the SDK's (MODELYARD_TRACKING_URI, MLFLOW_TRACKING_URI, else ./.modelyard).",
    )(fn)


def trusted_types_option(fn: F) -> F:
    """``--trusted-types``: skops types to trust beyond scikit-learn's own (``modelyard.models.trust``)."""
    return click.option(
        "--trusted-types",
        multiple=True,
        metavar="TYPE[,TYPE...]",
        help="skops types to trust beyond scikit-learn's own compiled types and MODELYARD_SKOPS_TRUSTED_TYPES"
        " (a type also has to be declared in the model's MLmodel). Repeatable.",
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (MLflow REST shapes) instead of a table.")(
        fn
    )


VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}


def view_option(what: str) -> Callable[[F], F]:
    """``--view active|deleted|all``, the value a key of :data:`VIEWS`."""
    return click.option(
        "--view",
        type=click.Choice(list(VIEWS)),
        default="active",
        show_default=True,
        help=f"Which {what} to show: active, deleted or all.",
    )


def client(tracking_uri: str | None) -> Client:
    """A :class:`~modelyard.Client` on ``tracking_uri`` (else the SDK's URI), closed with the command."""
    from ..client.client import Client

    c = Client(tracking_uri)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(c.close)
    return c


def store_name(tracking_uri: str | None) -> str:
    """Where a command looks, for its messages: the embedded store's folder (or SQLite URI), else the
    tracking URI without any credentials in it."""
    import os
    from urllib.parse import urlsplit, urlunsplit

    from ..client.uri import embedded_database_file, get_tracking_uri

    uri = tracking_uri or get_tracking_uri()
    if embedded_database_file(uri) is not None:
        return uri if uri.startswith("sqlite:") else os.path.abspath(uri)
    parts = urlsplit(uri)
    if parts.password or parts.username:
        host = parts.hostname or ""
        parts = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host)
    return urlunsplit(parts)


def reading_client(tracking_uri: str | None) -> Client:
    """:func:`client` for a command that only reads: a missing embedded store is an error naming where it was looked
    for, never created empty."""
    import os

    from ..client.uri import embedded_database_file, get_tracking_uri

    uri = tracking_uri or get_tracking_uri()
    database = embedded_database_file(uri)
    if database is not None and not os.path.exists(database):
        raise click.ClickException(
            f"No modelyard store at {store_name(uri)}. Log a run there to create one (e.g. modelyard quickstart),"
            " or point --tracking-uri or MODELYARD_TRACKING_URI at an existing store."
        )
    return client(tracking_uri)


# ---- JSON ---------------------------------------------------------------------


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (non-finite floats as MLflow writes them)."""
    click.echo(json.dumps(_finite(data), indent=2))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ---- tables -------------------------------------------------------------------


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """Rows as a plain text table under a header; number columns right-aligned, the rest left."""
    values = [list(row) for row in rows]
    cells = [[cell_text(c) for c in row] for row in values]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [
        any(row[i] is not None for row in values) and all(row[i] is None or _is_number(row[i]) for row in values)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def echo_table(rows: Iterable[Sequence[Any]], headers: Sequence[str], empty: str = "(none)") -> None:
    rows = list(rows)
    click.echo(table(rows, headers) if rows else empty)


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    """``key: value`` lines with the values aligned; empty values are left out."""
    pairs = [(k, cell_text(v)) for k, v in pairs if v not in (None, "")]
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {v}".rstrip() for k, v in pairs)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    text = str(value)
    return text.replace("\n", " ")


def format_number(value: float) -> str:
    """A metric value short enough for a table: up to 6 significant digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_time(ms: int | None) -> str:
    """Epoch milliseconds as local ``YYYY-MM-DD HH:MM:SS``."""
    if ms is None:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    """``1.2s``, ``3m04s``, ``2h05m``; empty while a run has no end."""
    if start_ms is None or end_ms is None:
        return ""
    seconds = max(0.0, (end_ms - start_ms) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
