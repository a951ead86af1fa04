"""``modelyard predict MODEL_URI --input data.parquet --output preds.parquet``: batch scoring in chunks."""

from __future__ import annotations

import click

from .output import SdkCommand, tracking_uri_option, trusted_types_option


@click.command("predict", cls=SdkCommand)
@click.argument("model_uri")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A .parquet or .csv file with the model's input columns.")
@click.option("--output", "-o", "output_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write predictions: .parquet or .csv.")
@click.option("--chunk-rows", default=10_000, show_default=True, type=int, help="Rows scored per chunk.")
@click.option("--keep-columns", is_flag=True, help="Write the input columns beside the predictions.")
@click.option("--no-progress", is_flag=True, help="Do not draw a progress bar.")
@tracking_uri_option
@trusted_types_option
def command(model_uri: str, input_path: str, output_path: str, chunk_rows: int, keep_columns: bool,
            no_progress: bool, tracking_uri: str | None, trusted_types: tuple[str, ...]) -> None:
    """Score a file with MODEL_URI, chunk by chunk, through the same predict path as `modelyard serve`.

    Runs in your own process: a pickled model loads with a warning (`modelyard serve` refuses it).
    """
    from ..client import Client
    from ..models.trust import local_policy
    from ..serving.batch import load_for_batch, predict_file

    with Client(tracking_uri) as client:
        model = load_for_batch(model_uri, client, local_policy(trusted_types))
        try:
            with click.progressbar(length=1, label=f"{model.name} v{model.version}", file=None,
                                   hidden=no_progress) as bar:
                state = {"done": 0}

                def progress(done: int, total: int) -> None:
                    bar.length = max(total, done, 1)
                    bar.update(done - state["done"])
                    state["done"] = done

                rows = predict_file(model, input_path, output_path, chunk_rows=chunk_rows,
                                    keep_columns=keep_columns, on_progress=progress)
        finally:
            model.close()
    click.echo(f"wrote {rows} predictions to {output_path}", err=True)
