"""``modelyard server`` and ``modelyard ui``: the HTTP server over a store."""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import MissingExtra
from ..extras import check_uris
from ..settings import Settings
from .asgi import check_port, run_asgi


def settled_app(settings: Settings) -> Any:
    """The tracking server's app, with the heap settled once it is built (:func:`..heap.settle_heap`)."""
    from ..server import create_app
    from ..web.heap import settle_heap

    app = create_app(settings)
    settle_heap()
    return app


def run_server(settings: Settings, log_level: str = "warning") -> None:
    """Serve ``settings`` with uvicorn, in one process or ``settings.workers`` processes."""
    if not settings.csrf_secret:  # one key for every worker: a form served by one is posted to another
        settings = settings.with_(csrf_secret=secrets.token_hex(32))
    run_asgi(functools.partial(settled_app, settings), settings.host, settings.port, settings.workers, log_level,
             request_timeout=settings.request_body_timeout)


F = TypeVar("F", bound=Callable[..., Any])


def _common(fn: F) -> F:
    for option in reversed(
        [
            click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on."),
            click.option("--port", "-p", default=5000, show_default=True, type=int, help="Port to listen on."),
            click.option("--workers", "-w", default=1, show_default=True, type=int, help="Worker processes."),
            click.option("--log-level", default="warning", show_default=True, help="uvicorn log level."),
        ]
    ):
        fn = option(fn)
    return fn


@click.command()
@click.option(
    "--backend-store-uri",
    default=None,
    help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB. Default: ./.modelyard/modelyard.db",
)
@click.option(
    "--artifacts-destination",
    default=None,
    help="Where proxied artifacts are kept: a path or s3://BUCKET/PREFIX. Default: ./.modelyard/artifacts",
)
@click.option(
    "--default-artifact-root",
    default=None,
    help="Artifact root given to clients for direct access (with --no-serve-artifacts).",
)
@click.option(
    "--serve-artifacts/--no-serve-artifacts",
    default=True,
    show_default=True,
    help="Proxy artifact uploads and downloads through this server (mlflow-artifacts:/ URIs).",
)
@click.option(
    "--auth/--no-auth",
    default=None,
    help="Require authentication (HTTP Basic or a bearer token) and check permissions. Default:"
    " MODELYARD_AUTH (off).",
)
@_common
def server(
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    default_artifact_root: str | None,
    serve_artifacts: bool,
    auth: bool | None,
    host: str,
    port: int,
    workers: int,
    log_level: str,
) -> None:
    """Run the tracking server (MLflow REST API) over a store."""
    folder = os.path.abspath(".modelyard")
    if not serve_artifacts and not default_artifact_root:
        raise click.UsageError("--no-serve-artifacts needs --default-artifact-root (e.g. s3://bucket/prefix).")
    settings = Settings.from_env(
        backend_store_uri=backend_store_uri or f"sqlite:///{folder}/modelyard.db",
        artifacts_destination=artifacts_destination or os.path.join(folder, "artifacts"),
        default_artifact_root=default_artifact_root,
        serve_artifacts=serve_artifacts,
        host=host,
        port=port,
        workers=workers,
    )
    if auth is not None:
        settings = settings.with_(auth=auth)
    check_port(host, port)
    try:
        check_uris(settings.backend_store_uri, settings.artifacts_destination, settings.default_artifact_root)
    except MissingExtra as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"modelyard server on http://{host}:{port}  store={settings.backend_store_uri}"
               + ("  auth=on" if settings.auth else ""), err=True)
    run_server(settings, log_level)


@click.command()
@click.option("--dir", "folder", default=".modelyard", show_default=True, help="The embedded store folder.")
@_common
def ui(folder: str, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the local ./.modelyard/ store over HTTP (API and UI)."""
    folder = os.path.abspath(folder)
    settings = Settings.from_env(
        backend_store_uri=f"sqlite:///{folder}/modelyard.db",
        artifacts_destination=os.path.join(folder, "artifacts"),
        default_artifact_root=os.path.join(folder, "artifacts"),
        serve_artifacts=False,
        host=host,
        port=port,
        workers=workers,
    )
    check_port(host, port)
    click.echo(f"modelyard ui on http://{host}:{port}  store={folder}", err=True)
    run_server(settings, log_level)
