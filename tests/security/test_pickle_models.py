"""Issue 13, defect 4: pickled models anywhere a client can point ``modelyard serve``.

The attack: upload a pickle model, register it, move the served alias; the server
swaps to it unattended and unpickles it. Our pickles here write a marker file when
unpickled (and then return a working classifier), so "never executed" is a file
that does not exist. ``modelyard serve`` refuses them unless ``--allow-pickle``;
the user's own ``load_model`` / ``modelyard predict`` load them with a warning.
skops models load the types the operator trusts (scikit-learn's own compiled types
by default, more through ``MODELYARD_SKOPS_TRUSTED_TYPES`` / ``--trusted-types``)
that the model's MLmodel also declares. RandomForests logged by our SDK and by
``mlflow.sklearn`` serve and batch-predict with default settings.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import modelyard as my
import modelyard.models as mm
from modelyard.cli import main
from modelyard.errors import UntrustedModel
from modelyard.models.trust import local_policy, serving_policy
from modelyard.serving import ServingConfig
from tests.conftest import free_port
from tests.mlflow_support import THIRD_PARTY_WARNINGS, mlflow_client_env, mlflow_client_on
from tests.serving.conftest import ServeProcess

pytestmark = [pytest.mark.filterwarnings(spec) for spec in THIRD_PARTY_WARNINGS]

FEATURES = ["radius", "texture", "area"]


@pytest.fixture(autouse=True)
def _no_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Default settings: nothing trusted beyond the built-in list, pickles not allowed."""
    for name in ("MODELYARD_SERVE_ALLOW_PICKLE", "MODELYARD_SKOPS_TRUSTED_TYPES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(80, 3)), columns=FEATURES)
    return frame, (frame["radius"] + frame["texture"] > 0).astype(int).to_numpy()


@pytest.fixture(scope="module")
def clf(data):
    frame, y = data
    return LogisticRegression().fit(frame, y)


@pytest.fixture(scope="module")
def forest(data):
    frame, y = data
    return RandomForestClassifier(n_estimators=8, random_state=0).fit(frame, y)


# ---- pickles that run code --------------------------------------------------------------------


class _Payload:
    """Unpickles by calling ``eval``: writes ``marker``, then returns the pickled estimator."""

    def __init__(self, marker: Path, estimator: Any) -> None:
        self.code = (f"(__import__('pathlib').Path({str(marker)!r}).write_text('executed'),"
                     f" __import__('pickle').loads({pickle.dumps(estimator)!r}))[1]")

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return eval, (self.code,)


def _write_mlmodel(path: Path, flavors: dict[str, Any]) -> None:
    (path / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors}))


def evil_model(kind: str, path: Path, marker: Path, estimator: Any, example: pd.DataFrame | None = None) -> Path:
    """A model directory in ``kind``'s pickle format whose unpickling writes ``marker``."""
    payload = pickle.dumps(_Payload(marker, estimator))
    if kind == "sklearn-pickle":
        with pytest.warns(mm.UnsafeSerializationWarning):
            mm.save_model(estimator, path, serialization_format="pickle", input_example=example)
        (path / "model.pkl").write_bytes(payload)
    elif kind == "sklearn-cloudpickle":
        path.mkdir(parents=True)
        _write_mlmodel(path, {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl"},
            "sklearn": {"pickled_model": "model.pkl", "serialization_format": "cloudpickle"},
        })
        (path / "model.pkl").write_bytes(payload)
    elif kind == "python-cloudpickle":  # our custom Python model, cloudpickled
        path.mkdir(parents=True)
        _write_mlmodel(path, {
            "python_function": {"loader_module": "modelyard.models.flavors.python_model"},
            "python_class": {"class": "x:Y", "serialization_format": "cloudpickle", "python_model": "m.pkl"},
        })
        (path / "m.pkl").write_bytes(payload)
    elif kind == "mlflow-pyfunc":  # an MLflow PythonModel
        path.mkdir(parents=True)
        _write_mlmodel(path, {"python_function": {"loader_module": "mlflow.pyfunc.model",
                                                  "python_model": "python_model.pkl"}})
        (path / "python_model.pkl").write_bytes(payload)
    elif kind == "pytorch-pickle":  # torch.load without weights_only
        (path / "data").mkdir(parents=True)
        _write_mlmodel(path, {
            "python_function": {"loader_module": "mlflow.pytorch"},
            "pytorch": {"model_data": "data", "model_format": "pickle", "model_file": "model.pth"},
        })
        (path / "data" / "model.pth").write_bytes(payload)
    else:
        raise AssertionError(kind)
    return path


KINDS = ["sklearn-pickle", "sklearn-cloudpickle", "python-cloudpickle", "mlflow-pyfunc", "pytorch-pickle"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_servers_policy_refuses_every_pickle_format_before_unpickling(kind, tmp_path, clf):
    marker = tmp_path / "marker"
    model = evil_model(kind, tmp_path / "m", marker, clf)
    with pytest.raises(UntrustedModel, match="--allow-pickle") as refused:
        mm.load_model(model, trust=serving_policy(allow_pickle=False))
    assert refused.value.reason == "pickle" and refused.value.status == 403
    assert "MODELYARD_SERVE_ALLOW_PICKLE" in refused.value.message
    assert not marker.exists()

    # The same file in the user's own process: it warns, and the payload is real (it runs).
    with pytest.warns(mm.UnsafeSerializationWarning, match="arbitrary code"):
        _load_ignoring_torch_format(model, kind)
    assert marker.read_text() == "executed"


def _load_ignoring_torch_format(model: Path, kind: str) -> None:
    try:
        mm.load_model(model)
    except Exception:  # torch.load runs our plain pickle, then wants its archive's magic number
        if kind != "pytorch-pickle":
            raise


def test_load_model_of_a_pickle_model_warns_and_loads(tmp_path, clf, data):
    frame, _ = data
    with pytest.warns(mm.UnsafeSerializationWarning):
        mm.save_model(clf, tmp_path / "m", serialization_format="cloudpickle")
    with pytest.warns(mm.UnsafeSerializationWarning, match="cloudpickle: unpickling can run arbitrary code"):
        loaded = mm.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_batch_predict_in_the_users_own_process_loads_a_pickle_with_a_warning(tmp_path, clf, data):
    frame, _ = data
    with pytest.warns(mm.UnsafeSerializationWarning):
        mm.save_model(clf, tmp_path / "m", serialization_format="pickle", input_example=frame.iloc[:3])
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(src, index=False)
    with pytest.warns(mm.UnsafeSerializationWarning, match="Loading a model with pickle"):
        result = CliRunner().invoke(main, ["predict", str(tmp_path / "m"), "-i", str(src), "-o", str(out),
                                           "--no-progress", "--tracking-uri", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["prediction"].tolist() == clf.predict(frame).tolist()


def test_allow_pickle_comes_from_the_flag_or_the_setting(monkeypatch):
    assert ServingConfig("m").trust().pickle == "refuse"
    assert ServingConfig("m", allow_pickle=True).trust().pickle == "allow"
    monkeypatch.setenv("MODELYARD_SERVE_ALLOW_PICKLE", "true")
    assert ServingConfig("m").trust().pickle == "allow"
    assert ServingConfig("m", allow_pickle=False).trust().pickle == "refuse"  # the flag wins


# ---- through a real `modelyard serve` --------------------------------------------------------


def _log_dir(tracking_uri: str, local: Path, name: str) -> int:
    """Upload a model directory as a run's ``model`` artifacts and register it; returns the version."""
    client = my.Client(tracking_uri)
    try:
        exp = client.create_experiment(f"evil-{uuid.uuid4().hex[:8]}")
        run = client.create_run(exp)
        client.log_artifacts(run.info.run_id, str(local), "model")
        return int(mm.register_model(f"runs:/{run.info.run_id}/model", name, client=client).version)
    finally:
        client.close()


@pytest.fixture
def store_with_evil_version(tmp_path, clf, data):
    """A registry: version 1 a safe (skops) classifier, version 2 the marker-writing pickle; champion → 1."""
    frame, _ = data
    store = str(tmp_path / "store")
    name = f"churn-{uuid.uuid4().hex[:8]}"
    good = tmp_path / "good"
    mm.save_model(clf, good, input_example=frame.iloc[:3])
    assert _log_dir(store, good, name) == 1
    marker = tmp_path / "marker"
    evil = evil_model("sklearn-pickle", tmp_path / "evil", marker, clf, frame.iloc[:3])
    assert _log_dir(store, evil, name) == 2
    client = my.Client(store)
    client.set_registered_model_alias(name, "champion", 1)
    client.close()
    return store, name, marker


def _alias_moved(proc: ServeProcess, name: str, version: int) -> dict[str, Any]:
    """Move the served alias and tell the server through its webhook, waiting for the refresh."""
    event = {"entity": "model_version_alias", "action": "created", "timestamp": int(time.time()),
             "data": {"name": name, "alias": "champion", "version": str(version)}}
    resp = httpx.post(proc.url + "/-/webhook?wait=1", content=json.dumps(event), timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _invoke(url: str, frame: pd.DataFrame) -> httpx.Response:
    body = {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
    return httpx.post(url + "/invocations", json=body, timeout=30)


def test_hot_swap_to_a_pickle_is_refused_and_the_old_version_keeps_serving(store_with_evil_version, data, clf):
    store, name, marker = store_with_evil_version
    frame, _ = data
    proc = ServeProcess(f"models:/{name}@champion", store, "--poll-interval", "0")
    try:
        assert _invoke(proc.url, frame).headers["x-model-version"] == "1"
        client = my.Client(store)
        client.set_registered_model_alias(name, "champion", 2)  # the attacker moves the alias
        client.close()
        answer = _alias_moved(proc, name, 2)
        assert answer["model_version"] == "1"
        assert "--allow-pickle" in answer["last_error"] and answer["refused_version"] == f"models:/{name}/2"

        resp = _invoke(proc.url, frame)
        assert resp.status_code == 200 and resp.headers["x-model-version"] == "1"
        assert resp.json()["predictions"] == clf.predict(frame).tolist()
        version = httpx.get(proc.url + "/version").json()
        assert version["model_version"] == "1" and "UntrustedModel" in version["last_error"]
        metrics = httpx.get(proc.url + "/metrics").text
        assert 'modelyard_serving_model_refused_total{reason="pickle"} 1.0' in metrics
        assert "modelyard_serving_model_load_failures_total 1.0" in metrics

        _alias_moved(proc, name, 2)  # told again: not downloaded or counted again
        assert 'modelyard_serving_model_refused_total{reason="pickle"} 1.0' in httpx.get(proc.url + "/metrics").text
        assert "refusing to switch" in proc.output() and "--allow-pickle" in proc.output()
        assert not marker.exists()
    finally:
        proc.stop()


def _serve_until_exit(uri: str, tracking_uri: str, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    argv = [sys.executable, "-m", "modelyard.cli", "serve", uri, "--tracking-uri", tracking_uri,
            "--port", str(free_port()), "--poll-interval", "0", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
                          check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_start_up_on_a_pickle_is_refused_naming_the_flag(store_with_evil_version, workers):
    store, name, marker = store_with_evil_version
    code, output = _serve_until_exit(f"models:/{name}/2", store, "--workers", workers)
    assert code == 1  # refused by the CLI's check before any worker starts, with one worker or several
    assert "Error: Cannot serve" in output and "--allow-pickle" in output and "MODELYARD_SERVE_ALLOW_PICKLE" in output
    assert "on http://" not in output  # no address announced that would not answer
    assert not marker.exists()


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_allow_pickle_loads_it(store_with_evil_version, data, clf, how):
    store, name, marker = store_with_evil_version
    frame, _ = data
    flag, env = (["--allow-pickle"], None) if how == "flag" else ([], {"MODELYARD_SERVE_ALLOW_PICKLE": "true"})
    proc = ServeProcess(f"models:/{name}/2", store, "--poll-interval", "0", *flag, env=env)
    try:
        resp = _invoke(proc.url, frame)
        assert resp.status_code == 200 and resp.headers["x-model-version"] == "2"
        assert resp.json()["predictions"] == clf.predict(frame).tolist()
        assert marker.read_text() == "executed"  # the operator allowed code to run
    finally:
        proc.stop()


# ---- RandomForests, logged both ways, with default settings -----------------------------------


@pytest.fixture
def forests(sqlite_live_server, forest, data):
    """One forest logged by our SDK without options, one by mlflow.sklearn (skops), both registered (v1)."""
    import mlflow

    frame, _ = data
    url = sqlite_live_server.url
    ours, theirs = f"rf-ours-{uuid.uuid4().hex[:6]}", f"rf-mlflow-{uuid.uuid4().hex[:6]}"
    my.set_tracking_uri(url)
    try:
        with my.start_run():
            info = my.models.log_model(forest, "model", input_example=frame.iloc[:3], registered_model_name=ours)
    finally:
        while my.active_run():
            my.end_run()
        my.set_tracking_uri(None)
    assert info.flavors["sklearn"]["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]  # declared, as MLflow
    with mlflow_client_env(), mlflow_client_on(url), mlflow.start_run():
        mlflow.sklearn.log_model(
            forest, name="model", serialization_format="skops", input_example=frame.iloc[:3],
            skops_trusted_types=["sklearn.tree._tree.Tree"], registered_model_name=theirs,
            pip_requirements=["scikit-learn", "skops"],
        )
    return url, {"ours": ours, "mlflow": theirs}


@pytest.mark.parametrize("who", ["ours", "mlflow"])
def test_a_logged_random_forest_serves_and_batch_predicts_with_default_settings(forests, who, forest, data, tmp_path):
    url, names = forests
    frame, _ = data
    uri = f"models:/{names[who]}/1"
    expected = forest.predict(frame).tolist()
    proc = ServeProcess(uri, url, "--poll-interval", "0", "--no-request-log")
    try:
        resp = _invoke(proc.url, frame)
        assert resp.status_code == 200, resp.text
        assert resp.json()["predictions"] == expected
    finally:
        proc.stop()
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    frame.to_parquet(src)
    result = CliRunner().invoke(main, ["predict", uri, "-i", str(src), "-o", str(out), "--tracking-uri", url,
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)["prediction"].tolist() == expected


# ---- skops types outside the trusted set -----------------------------------------------------


@pytest.fixture
def abs_model(tmp_path, data):
    """A skops pipeline holding ``builtins.abs`` (declared in its MLmodel, not trusted by default)."""
    frame, y = data
    pipe = make_pipeline(FunctionTransformer(func=abs), LogisticRegression()).fit(frame, y)
    mm.save_model(pipe, tmp_path / "abs", input_example=frame.iloc[:3], skops_trusted_types=["builtins.abs"])
    return tmp_path / "abs", pipe


def test_an_untrusted_skops_type_is_refused_by_serve_until_the_setting_adds_it(abs_model, data, tmp_path):
    path, pipe = abs_model
    frame, _ = data
    store = str(tmp_path / "store")
    code, output = _serve_until_exit(str(path), store)
    assert code != 0
    assert "['builtins.abs']" in output and "--trusted-types" in output and "MODELYARD_SKOPS_TRUSTED_TYPES" in output

    proc = ServeProcess(str(path), store, "--poll-interval", "0", "--no-request-log",
                        env={"MODELYARD_SKOPS_TRUSTED_TYPES": "builtins.abs"})
    try:
        resp = _invoke(proc.url, frame)
        assert resp.status_code == 200 and resp.json()["predictions"] == pipe.predict(frame).tolist()
    finally:
        proc.stop()


def test_an_untrusted_skops_type_is_refused_by_predict_until_trusted(abs_model, data, tmp_path, monkeypatch):
    path, pipe = abs_model
    frame, _ = data
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(src, index=False)
    args = ["predict", str(path), "-i", str(src), "-o", str(out), "--no-progress", "--tracking-uri", str(tmp_path / "s")]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and "['builtins.abs']" in refused.output and not out.exists()

    accepted = CliRunner().invoke(main, [*args, "--trusted-types", "builtins.abs"])
    assert accepted.exit_code == 0, accepted.output
    assert pd.read_csv(out)["prediction"].tolist() == pipe.predict(frame).tolist()
    monkeypatch.setenv("MODELYARD_SKOPS_TRUSTED_TYPES", "numpy.foo, builtins.abs")
    assert CliRunner().invoke(main, args).exit_code == 0


def test_a_models_own_list_never_widens_the_trusted_set_nor_is_it_skipped(abs_model, data):
    path, _ = abs_model
    # The MLmodel declares builtins.abs: not enough on its own.
    with pytest.raises(UntrustedModel, match=r"not trusted here: \['builtins.abs'\]"):
        mm.load_model(path, trust=serving_policy(allow_pickle=True))
    # Trusted here but no longer declared by the model: refused too (the intersection).
    mlmodel = yaml.safe_load((path / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"] = None
    (path / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(UntrustedModel, match="does not declare in skops_trusted_types"):
        mm.load_model(path, trust=local_policy(["builtins.abs"]))


def test_default_trusted_types_cover_scikit_learns_compiled_models(tmp_path, data):
    """Trees, forests, boosting (plain and histogram), nearest neighbours: save and load with no options."""
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
    from sklearn.neighbors import KNeighborsClassifier

    frame, y = data
    for i, est in enumerate([GradientBoostingClassifier(n_estimators=5), HistGradientBoostingClassifier(max_iter=5),
                             KNeighborsClassifier(), KNeighborsClassifier(algorithm="ball_tree", metric="manhattan")]):
        est.fit(frame, y)
        mm.save_model(est, tmp_path / str(i))
        loaded = mm.load_model(tmp_path / str(i), trust=serving_policy(allow_pickle=False))
        np.testing.assert_array_equal(loaded.predict(frame), est.predict(frame))
