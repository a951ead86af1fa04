"""``modelyard import mlflow SOURCE``: move in from an MLflow installation."""

from __future__ import annotations

import os
import sys

import click

from ..client.uri import get_tracking_uri
from .output import SdkGroup, client


@click.group("import", cls=SdkGroup)
def command() -> None:
    """Copy another tracking installation into modelyard."""


@command.command("mlflow")
@click.argument("source")
@click.option(
    "--source-artifacts",
    default=None,
    metavar="PATH_OR_URI",
    help="With a database SOURCE: the MLflow server's artifact root (its --artifacts-destination), "
    "where mlflow-artifacts:/ locations live.",
)
@click.option(
    "--to",
    "to",
    default=None,
    metavar="URI",
    help="The modelyard store to copy into: http(s)://host:port, a folder or a database URI. "
    "Default: the SDK's (MODELYARD_TRACKING_URI, MLFLOW_TRACKING_URI, else ./.modelyard).",
)
@click.option("--max-runs", type=click.IntRange(min=1), default=None, help="Stop after copying this many runs.")
def mlflow(source: str, source_artifacts: str | None, to: str | None, max_runs: int | None) -> None:
    """Copy experiments, runs, metric histories, datasets, logged models, the registry and
    artifacts from SOURCE: a tracking server (http://host:port) or its database URI
    (sqlite:///mlflow.db, postgresql://...). Safe to repeat: what was copied is not copied
    again, and an interrupted import continues where it stopped.
    """
    from ..importer import Importer, open_source

    if _same_store(to or get_tracking_uri(), source):  # checked before the target is opened (and migrated)
        raise click.UsageError("SOURCE and the target are the same store: name the modelyard store with --to URI.")
    target = client(to)
    src = open_source(source, source_artifacts)
    click.get_current_context().call_on_close(src.close)
    importer = Importer(src, target, max_runs=max_runs)
    total = importer.total()
    click.echo(f"Importing from {src.label} into {target.tracking_uri}: {total} runs.", err=True)
    if sys.stderr.isatty():
        with click.progressbar(length=total, label="Copying runs", file=sys.stderr) as bar:
            summary = importer.run(lambda _name: bar.update(1))
    else:
        every = max(1, total // 20)
        seen = [0]

        def line(name: str) -> None:
            seen[0] += 1
            if seen[0] % every == 0 or seen[0] == total:
                click.echo(f"  {seen[0]}/{total} runs ({name})", err=True)

        summary = importer.run(line)
    for text in summary.lines():
        click.echo(text)


def _same_store(a: str, b: str) -> bool:
    def plain(uri: str) -> str:
        uri = uri.rstrip("/").replace("postgresql+psycopg://", "postgresql://", 1)
        return "sqlite:///" + os.path.abspath(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else uri

    return plain(a) == plain(b)
