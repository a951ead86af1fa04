"""Pre-run checks with file:line, materializers, tracking of steps (nested runs, logs, metrics, lineage)."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import modelyard as my
from modelyard.pipelines import (
    PickledOutputWarning,
    PipelineCheckError,
    Step,
    load_pipeline,
    pipeline,
    step,
)

BAD = textwrap.dedent('''
    from modelyard.pipelines import pipeline, step

    @step
    def load(n: int) -> str:
        return "x" * n

    @step
    def train(rows: int, lr: float = 0.1) -> float:
        return rows * lr

    leaked = None

    @pipeline
    def bad(n: int, name: str = "a"):
        global leaked
        data = load(n)
        leaked = data
        train(data)
        train("ten")
        train(n, lr=0.1, epochs=3)
        train(name)
        return lambda: data
''')


def test_checks_report_every_problem_with_file_and_line(tmp_path, store):
    path = tmp_path / "bad.py"
    path.write_text(BAD)
    pipe = load_pipeline(f"{path}:bad")
    with pytest.raises(PipelineCheckError) as info:
        pipe.run({"n": "abc", "zz": 1}, executor="inline", from_cli=True)
    text = str(info.value)
    found = {(p.check, p.line) for p in info.value.problems}
    assert ("parameter-type", 15) in found and ("unknown-parameter", 15) in found
    assert ("input-type", 19) in found  # load declares str, train wants int
    assert ("input-type", 20) in found  # literal "ten"
    assert ("step-arguments", 21) in found  # unexpected keyword epochs
    assert ("input-type", 22) in found  # pipeline parameter name: str
    assert ("handle-outside-pipeline", 16) in found and ("handle-outside-pipeline", 23) in found
    assert f"{path}:15:" in text
    with pytest.raises(PipelineCheckError, match="missing-parameter"):
        pipe.check({})
    assert my.Client().search_pipeline_runs().items == []  # nothing ran


def test_handle_used_outside_its_pipeline(store):
    @step
    def one() -> int:
        return 1

    kept = []

    @pipeline
    def p():
        kept.append(one())

    p.run(executor="inline")
    with pytest.raises(PipelineCheckError, match="handle-outside-pipeline"):
        Step.__call__(one, kept[0])
    assert kept[0].result() == 1 and one() == 1  # outside a pipeline a step is its function


@step
def frames(n: int):
    print("made frames")
    my.log_metric("rows", n)
    return {"df": pd.DataFrame({"a": range(n)}), "arr": np.arange(n), "tbl": pa.table({"b": list(range(n))})}


@step
def make_df(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n), "b": [str(i) for i in range(n)]})


@step
def make_arr(n: int) -> np.ndarray:
    return np.arange(n, dtype="float32")


@step
def make_table(n: int) -> pa.Table:
    return pa.table({"c": list(range(n))})


@step
def fit(df: pd.DataFrame):
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit(df[["a"]], df["a"] * 2.0)


@step
def odd(n: int):
    print("to stderr", file=__import__("sys").stderr)
    return {1, 2, n}


@step
def summary(df: pd.DataFrame, arr: np.ndarray, tbl: pa.Table, model, s: set) -> dict:
    my.log_metric("total", float(arr.sum()))
    return {"rows": len(df), "arr": float(arr.sum()), "tbl": tbl.num_rows, "pred": float(model.predict(df[["a"]])[1]),
            "s": sorted(s)}


@pipeline
def data_flow(n: int = 4):
    df = make_df(n)
    return summary(df, make_arr(n), make_table(n), fit(df), odd(n))


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_materializers_tracking_and_lineage(store, executor):
    with pytest.warns(PickledOutputWarning):
        result = data_flow.run({"n": 4}, executor=executor, max_workers=2)
    assert result.output == {"rows": 4, "arr": 6.0, "tbl": 4, "pred": 2.0, "s": [1, 2, 4]}
    c = my.Client()
    lineage = c.get_pipeline_lineage(result.run_id)
    kinds = {s.task_key: s.output["kind"] for s in lineage.steps}
    assert kinds == {"make_df": "pandas", "make_arr": "numpy", "make_table": "arrow", "fit": "model", "odd": "pickle",
                     "summary": "json"}
    assert {(e["from_task"], e["to_task"]) for e in lineage.edges} >= {("make_df", "fit"), ("fit", "summary")}
    summary_run = c.get_run(lineage.pipeline_run.step("summary").run_id)
    assert summary_run.data.tags["mlflow.parentRunId"] == result.run_id
    assert summary_run.data.metrics == {"total": 6.0}  # the fluent API inside a step logs to the step's run
    assert summary_run.info.status == "FINISHED"
    odd_run = lineage.pipeline_run.step("odd").run_id
    assert "to stderr" in c.load_text(odd_run, "logs/stderr.txt")
    assert c.get_run(result.run_id).data.params == {"n": "4"}
    # a model version registered from a step run shows in the lineage
    c.create_registered_model("m")
    fit_run = c.get_run(lineage.pipeline_run.step("fit").run_id)
    c.create_model_version("m", f"{fit_run.info.artifact_uri}/outputs/model", fit_run.info.run_id)
    assert c.get_pipeline_lineage(fit_run.info.run_id).model_versions == [
        {"name": "m", "version": "1", "run_id": fit_run.info.run_id, "task_key": "fit"}]


def test_nested_under_an_active_run_and_cache_false(store, tmp_path):
    calls = tmp_path / "calls"

    @step(cache=False)
    def touch() -> int:
        with open(calls, "a") as fh:
            fh.write("x")
        return 1

    @pipeline
    def p():
        return touch()

    with my.start_run() as outer:
        r1 = p.run(executor="inline")
        p.run(executor="inline")
    assert os.path.getsize(calls) == 2
    assert my.get_run(r1.run_id).data.tags["mlflow.parentRunId"] == outer.info.run_id
