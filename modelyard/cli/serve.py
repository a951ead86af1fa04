"""``modelyard serve MODEL_URI``: the inference server (or, with ``--export``, its deployment files)."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import tempfile
from typing import TYPE_CHECKING

import click

from .asgi import check_port, run_asgi
from .output import SdkCommand, tracking_uri_option, trusted_types_option

if TYPE_CHECKING:
    from ..serving import ServingConfig


def run(config: ServingConfig, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve with uvicorn, in one process or ``workers`` processes (each loads the model).

    Workers share a fresh temporary directory where each writes its metric counts
    (``/metrics`` sums them, see ``serving.metrics_files``); it is removed at exit.
    """
    from ..serving import create_app

    config = dataclasses.replace(config, host=host)
    if workers <= 1 or config.metrics_dir:
        run_asgi(functools.partial(create_app, config), host, port, workers, log_level, request_timeout=config.request_body_timeout)
        return
    directory = tempfile.mkdtemp(prefix="modelyard-serve-metrics-")
    try:
        config = dataclasses.replace(config, metrics_dir=directory)
        run_asgi(functools.partial(create_app, config), host, port, workers, log_level, request_timeout=config.request_body_timeout)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@click.command("serve", cls=SdkCommand)
@click.argument("model_uri")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "-p", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", "-w", default=1, show_default=True, type=int, help="Worker processes.")
@tracking_uri_option
@click.option("--name", "model_name", default=None, help="Model name to report (default: from the URI).")
@click.option("--poll-interval", default=30.0, show_default=True, type=float,
              help="Seconds between checks of the alias in the registry; 0 = only on webhook.")
@click.option("--max-batch-size", default=32, show_default=True, type=int, help="Most requests per micro-batch.")
@click.option("--max-wait-ms", default=2.0, show_default=True, type=float,
              help="Longest a batch waits for requests still arriving (never when idle).")
@click.option("--request-log/--no-request-log", default=True, show_default=True,
              help="Write every prediction to the tracking store's inference table.")
@click.option("--request-log-queue", default=10_000, show_default=True, type=int,
              help="Request-log entries held in memory before new ones are dropped (and counted).")
@click.option("--max-request-bytes", default=64 * 1024 * 1024, show_default=True, type=click.IntRange(min=1),
              help="Largest request body accepted; a larger one is refused with 413 (a chunked one as soon as it"
              " passes the limit).")
@click.option("--webhook-secret", default=None, envvar="MODELYARD_WEBHOOK_SECRET",
              help="Check registry webhook signatures with this secret.")
@click.option("--allow-pickle", is_flag=True, default=None,
              help="Load pickle and cloudpickle models (scikit-learn pickle, custom Python models, PyTorch full-model"
              " pickles). Off by default: unpickling runs code, and the server loads whatever version the alias is"
              " moved to. Default: MODELYARD_SERVE_ALLOW_PICKLE (false).")
@trusted_types_option
@click.option("--allowed-hosts", default="", envvar="MODELYARD_SERVE_ALLOWED_HOSTS",
              help="Names answered in the Host header besides localhost and --host, comma-separated (* for all);"
              " another Host is refused (403) but on /health, /ping and /v2/health/*.")
@click.option("--cors-allowed-origins", default="", envvar="MODELYARD_SERVE_CORS_ALLOWED_ORIGINS",
              help="Origins whose pages may send POST requests, comma-separated (* for all).")
@click.option("--request-body-timeout", default=60.0, show_default=True, type=float,
              envvar="MODELYARD_SERVE_REQUEST_BODY_TIMEOUT",
              help="Seconds a client has to send a whole request; a slower one is answered 408 and closed.")
@click.option("--tokens", default="", envvar="MODELYARD_SERVE_TOKENS",
              help="Bearer tokens, comma-separated: when set, every request but /health, /ping and /v2/health/*"
              " must send Authorization: Bearer TOKEN with one of them (401 otherwise).")
@click.option("--log-level", default="warning", show_default=True, help="uvicorn log level.")
@click.option("--export", "export", nargs=2, type=(click.Choice(["docker", "k8s"]), click.Path(file_okay=False)),
              default=None, metavar="docker|k8s DIR",
              help="Write a Dockerfile (docker) or Kubernetes manifests (k8s) into DIR instead of serving.")
@click.option("--image", default=None, help="With --export k8s: the container image to run.")
def command(
    model_uri: str, host: str, port: int, workers: int, tracking_uri: str | None, model_name: str | None,
    poll_interval: float, max_batch_size: int, max_wait_ms: float, request_log: bool, request_log_queue: int,
    max_request_bytes: int, webhook_secret: str | None, allow_pickle: bool | None, trusted_types: tuple[str, ...],
    allowed_hosts: str, cors_allowed_origins: str, request_body_timeout: float, tokens: str,
    log_level: str, export: tuple[str, str] | None, image: str | None,
) -> None:
    """Serve MODEL_URI (models:/name@alias, models:/name/N, runs:/id/path or a path) over HTTP.

    MLflow's scoring protocol (/invocations), Open Inference Protocol v2 (/v2/...), /metrics,
    /feedback, a try-it page at /. The alias is followed: the server switches to the new
    version when it moves (polling, or POST /-/webhook from the registry). Pickled models are
    refused unless --allow-pickle; skops models load scikit-learn's own types plus --trusted-types.
    """
    from ..client.uri import get_tracking_uri
    from ..serving import ServingConfig

    resolved = tracking_uri or get_tracking_uri()
    if export is not None:
        _export(model_uri, resolved, export[0], export[1], image, trusted_types)
        return
    config = ServingConfig(
        model_uri=model_uri, tracking_uri=resolved, model_name=model_name, poll_interval=poll_interval,
        max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, request_log=request_log,
        request_log_queue=request_log_queue, webhook_secret=webhook_secret, max_request_bytes=max_request_bytes,
        allow_pickle=allow_pickle, trusted_types=trusted_types,
        allowed_hosts=allowed_hosts, cors_allowed_origins=cors_allowed_origins,
        request_body_timeout=request_body_timeout, tokens=tokens,
    )
    check_port(host, port)
    _check_model(config)
    click.echo(f"modelyard serve {model_uri} on http://{host}:{port}", err=True)
    run(config, host, port, workers, log_level)


def _check_model(config: ServingConfig) -> None:
    """Load the model once as the server will (same trust policy), so one that cannot fails here in one line.

    The server loads it again in each worker: a second load at start is the price of
    never announcing an address that would not answer.
    """
    from ..client import Client
    from ..errors import ModelyardError
    from ..serving.model import load, resolve

    with Client(config.tracking_uri) as c:
        try:
            load(resolve(config.model_uri, c, config.model_name), c, config.trust()).close()
        except ModelyardError as exc:
            raise click.ClickException(f"Cannot serve {config.model_uri}: {exc.message}") from None
        except Exception as exc:  # a flavor's own failure (missing package, corrupt file): still one line
            reason = " ".join(str(exc).split())  # one line, even for a YAML parser's several
            raise click.ClickException(f"Cannot serve {config.model_uri}: {type(exc).__name__}: {reason}") from None


def _export(model_uri: str, tracking_uri: str, kind: str, out_dir: str, image: str | None,
            trusted_types: tuple[str, ...]) -> None:
    from ..client import Client
    from ..models.trust import local_policy
    from ..serving.batch import load_for_batch
    from ..serving.export import export_docker, export_k8s

    with Client(tracking_uri) as client:
        model = load_for_batch(model_uri, client, local_policy(trusted_types))
        try:
            if kind == "docker":
                files = export_docker(model, model_uri, out_dir, tracking_uri)
            else:
                files = export_k8s(model, out_dir, image, tracking_uri if tracking_uri.startswith("http") else None)
        finally:
            model.close()
    for name in files:
        click.echo(f"wrote {out_dir.rstrip('/')}/{name}")
