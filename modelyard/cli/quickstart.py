"""``modelyard quickstart``: a small scikit-learn sweep, tracked, to have something to look at.

It trains k-nearest-neighbours and logistic regression on the breast-cancer
data that ships with scikit-learn (no download), each candidate a nested run
under one parent run, with the dataset as an input, params, test metrics and a
confusion-matrix figure. The best candidate's model is then logged into its run,
registered, given the alias ``champion`` and scored once in process through
``models:/<name>@champion``, so the registry has something to serve.
Deterministic (``random_state=0``) and a few seconds long.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import Any

import click

from ..client.uri import embedded_location
from .output import SdkCommand, format_number, tracking_uri_option

SEED = 0
TEST_SIZE = 0.25
DATASET = "breast-cancer"
MODEL_NAME = "quickstart-breast-cancer"
ALIAS = "champion"
METRICS = ("accuracy", "f1", "precision", "recall")


@dataclass(frozen=True)
class Candidate:
    """One model of the sweep: its run name, the params logged, and how to build it."""

    name: str
    model: str
    params: dict[str, Any]

    def build(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.model == "KNN":
            estimator = KNeighborsClassifier(**self.params)
        else:
            estimator = LogisticRegression(**self.params, max_iter=1000, random_state=SEED)
        return make_pipeline(StandardScaler(), estimator)


def candidates() -> list[Candidate]:
    """KNN over n_neighbors × weights, then logistic regression over C."""
    sweep = [
        Candidate(f"knn-k{k}-{w}", "KNN", {"n_neighbors": k, "weights": w})
        for k in (3, 7, 15)
        for w in ("uniform", "distance")
    ]
    sweep += [Candidate(f"logreg-C{c:g}", "LogisticRegression", {"C": c}) for c in (0.01, 0.1, 1.0, 10.0)]
    return sweep


@click.command("quickstart", cls=SdkCommand)
@click.option("--experiment-name", default="quickstart", show_default=True, help="The experiment to log into.")
@click.option("--model-name", default=MODEL_NAME, show_default=True, help="The registered model the best run goes to.")
@tracking_uri_option
def command(experiment_name: str, model_name: str, tracking_uri: str | None) -> None:
    """Train a small scikit-learn sweep on the breast-cancer data and track it."""
    try:
        import matplotlib  # noqa: F401
        import sklearn  # noqa: F401
        import skops  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f"quickstart needs scikit-learn, skops and matplotlib ({exc.name} is missing): "
            "pip install 'modelyard[quickstart]'"
        ) from exc
    import modelyard as my

    if tracking_uri:
        my.set_tracking_uri(tracking_uri)
    uri = my.get_tracking_uri()
    experiment = my.set_experiment(experiment_name)
    train, test = _load_data()
    sweep = candidates()
    click.echo(f"Training {len(sweep)} models on {DATASET} ({len(train)} train / {len(test)} test rows), logging to {uri}")

    with my.start_run(run_name=f"{DATASET}-sweep", description="modelyard quickstart: KNN and logistic regression") as parent:
        my.log_params({"dataset": DATASET, "test_size": TEST_SIZE, "random_state": SEED, "candidates": len(sweep)})
        my.set_tags({"quickstart": "true"})
        my.log_input(my.data.from_pandas(train, name=DATASET, targets="target"), context="training")
        fitted = {}
        with click.progressbar(sweep, label="Training", item_show_func=lambda c: c.name if c else None) as bar:
            for candidate in bar:
                fitted[candidate.name] = _train_one(my, candidate, train, test)
        parent_id = parent.info.run_id
        ranked = my.search_runs(
            experiment_ids=[experiment.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
            # Ties go to the candidate trained first, so the best run is the same every time.
            order_by=["metrics.accuracy DESC", "metrics.f1 DESC", "attributes.start_time ASC"],
            output_format="list",
        )
        best = ranked[0]
        my.set_tags({"best_run_id": best.info.run_id, "best_run_name": best.info.run_name})
        version = _register(my, fitted[best.info.run_name], best.info.run_id, model_name, test)

    registered = _score_champion(my, model_name, version, test)
    _summary(uri, tracking_uri, experiment, parent_id, len(ranked), best, registered)
    flag = f" --tracking-uri {shlex.quote(tracking_uri)}" if tracking_uri else ""
    click.echo(
        "\nServe it (next to try):\n"
        f"  modelyard serve {shlex.quote(f'models:/{model_name}@{ALIAS}')}{flag}"
        "    # then POST rows to http://127.0.0.1:8080/invocations"
    )


def _load_data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=SEED)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _train_one(my: Any, candidate: Candidate, train: Any, test: Any) -> Any:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    x_train, y_train = train.drop(columns="target"), train["target"]
    x_test, y_test = test.drop(columns="target"), test["target"]
    with my.start_run(run_name=candidate.name, nested=True):
        my.set_tags({"model": candidate.model})
        my.log_params({"model": candidate.model, **candidate.params})
        my.log_input(my.data.from_pandas(train, name=DATASET, targets="target"), context="training")
        model = candidate.build().fit(x_train, y_train)
        predicted = model.predict(x_test)
        my.log_metrics(
            {
                "accuracy": accuracy_score(y_test, predicted),
                "f1": f1_score(y_test, predicted),
                "precision": precision_score(y_test, predicted, zero_division=0),
                "recall": recall_score(y_test, predicted),
            }
        )
        my.log_figure(_confusion_figure(confusion_matrix(y_test, predicted), candidate.name), "confusion_matrix.png")
    return model


def _register(my: Any, model: Any, run_id: str, name: str, test: Any) -> str:
    """Log ``model`` into its run, register it as a new version of ``name`` and point ``champion`` at it."""
    features = test.drop(columns="target")
    info = my.models.log_model(model, "model", run_id=run_id, input_example=features.head(3),
                               registered_model_name=name)
    version = str(info.registered_model_version)
    my.Client().set_registered_model_alias(name, ALIAS, version)
    return version


def _score_champion(my: Any, name: str, version: str, test: Any) -> str:
    """Score the test rows once through ``models:/<name>@champion``, as a server would; the lines saying so."""
    model = my.models.load_model(f"models:/{name}@{ALIAS}")
    predicted = list(model.predict(test.drop(columns="target")))
    right = sum(int(p) == int(t) for p, t in zip(predicted, test["target"], strict=True))
    return (f"  Its model is registered as {name!r} version {version}, alias {ALIAS!r}; loaded back from\n"
            f"    models:/{name}@{ALIAS} it gets {right}/{len(predicted)} test rows right.\n")


def _confusion_figure(matrix: Any, title: str) -> Any:
    """A confusion matrix drawn on an Agg canvas (no pyplot, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = ["malignant", "benign"]  # target 0 and 1 in load_breast_cancer
    fig = Figure(figsize=(4, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in _cells(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=12)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _cells(matrix: Any) -> list[tuple[tuple[int, int], int]]:
    return [((i, j), int(matrix[i, j])) for i in range(matrix.shape[0]) for j in range(matrix.shape[1])]


def _summary(uri: str, given_uri: str | None, experiment: Any, parent_id: str, n_children: int, best: Any,
             registered: str) -> None:
    metrics = "  ".join(f"{k}={format_number(best.data.metrics[k])}" for k in METRICS)
    flag = f" --tracking-uri {shlex.quote(given_uri)}" if given_uri else ""
    name = shlex.quote(experiment.name)
    click.echo(
        f"\nLogged to experiment {experiment.name!r} (id {experiment.experiment_id}) in {uri}:\n"
        f"  1 parent run {parent_id} with {n_children} nested runs: params, {', '.join(METRICS)},\n"
        f"  the {DATASET} dataset as a training input, and confusion_matrix.png in each.\n"
        f"  Best by accuracy: {best.info.run_name} ({best.info.run_id})\n"
        f"    {metrics}\n"
        f"{registered}"
        "\nLook at it:\n"
        f"  modelyard runs list --experiment-name {name}{flag}\n"
        f"  modelyard runs search --experiment-name {name} --order-by 'metrics.accuracy DESC'{flag}\n"
        f"  modelyard runs show {best.info.run_id}{flag}"
    )
    if uri.startswith(("http://", "https://")):
        click.echo(f"  open {uri} in a browser; MLflow code reaches the same server with MLFLOW_TRACKING_URI={uri}")
        return
    where, here = embedded_location(uri), embedded_location(os.path.abspath(".modelyard"))
    ui: str | None
    if where == here:
        ui, server = "modelyard ui", "modelyard server"
    else:
        db = where.backend_store_uri
        folder = os.path.dirname(db[len("sqlite:///"):]) if db.endswith("/modelyard.db") else None
        ui = f"modelyard ui --dir {shlex.quote(folder)}" if folder else None
        server = (
            f"modelyard server --backend-store-uri {shlex.quote(db)}"
            f" --artifacts-destination {shlex.quote(where.artifact_root)}"
        )
    if ui:
        click.echo(f"  {ui}    # then open http://127.0.0.1:5000")
    click.echo(
        "\nPoint MLflow code at it:\n"
        f"  {server}    # the same store on http://127.0.0.1:5000\n"
        "  export MLFLOW_TRACKING_URI=http://127.0.0.1:5000    # then run your mlflow code as usual"
    )
