"""A light import and light installs.

``import modelyard`` (and pointing it at a server) loads none of the heavy modules until a call
needs them; a missing extra (``postgres``, ``s3``) is named with the command that installs it.
Each check runs in a fresh interpreter, where ``sys.modules`` starts empty; an extra is made
absent there with ``sys.modules[name] = None`` (an import of it then fails as if not installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import LiveServer, free_port

HEAVY = ("sqlalchemy", "alembic", "pandas", "numpy", "pyarrow", "boto3", "botocore", "psycopg", "starlette", "uvicorn")
ROOT = Path(__file__).resolve().parents[1]


def run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter in ``cwd``, with no tracking URI from this process's environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("MODELYARD_TRACKING_URI", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def heavy_loaded_after(code: str, cwd: Path) -> list[str]:
    """The heavy modules in ``sys.modules`` once ``code`` has run."""
    probe = f"\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    done = run(textwrap.dedent(code) + probe, cwd)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_import_modelyard_loads_no_heavy_module(tmp_path: Path) -> None:
    assert heavy_loaded_after("import modelyard", tmp_path) == []


def test_pointing_at_a_server_loads_no_heavy_module(tmp_path: Path) -> None:
    code = """
        import modelyard as my
        my.set_tracking_uri("http://127.0.0.1:1")
        assert my.get_tracking_uri() == "http://127.0.0.1:1"
    """
    assert heavy_loaded_after(code, tmp_path) == []


def test_the_command_line_loads_no_heavy_module_until_a_command_runs(tmp_path: Path) -> None:
    """``modelyard --help`` stays quick: a command imports the store, server or pandas inside its function."""
    assert heavy_loaded_after("import modelyard.cli", tmp_path) == []


def test_lazy_attributes_resolve(tmp_path: Path) -> None:
    """``my.step``, ``my.pipeline``, ``my.data`` and ``my.models`` load on first use, and pipelines stay light."""
    code = """
        import modelyard as my
        from modelyard import pipeline, step

        assert step is my.pipelines.step and pipeline is my.pipelines.pipeline
        assert callable(my.data.from_pandas)
        assert "models" in dir(my)
    """
    assert heavy_loaded_after(code, tmp_path) == []
    assert "pandas" in heavy_loaded_after("import modelyard as my\nmy.models.log_model", tmp_path)


# Depends on the lead's transport change (issue 14, one table of operations): today
# client/inference_http.py imports InferenceRecord from modelyard.service.inference and
# client/webhooks_http.py imports Webhook, WebhookDelivery, WebhookTestResult from
# modelyard.service.webhooks; both service modules load the store (SQLAlchemy, alembic).
# The same names imported from modelyard.entities.inference / modelyard.entities.webhooks
# make this test pass (checked by hand); the rewritten HTTP transport must keep it passing.
def test_talking_to_a_server_loads_no_heavy_module(sqlite_live_server: LiveServer, tmp_path: Path) -> None:
    code = f"""
        import modelyard as my
        my.set_tracking_uri({sqlite_live_server.url!r})
        my.set_experiment("light")
        with my.start_run() as run:
            my.log_param("lr", 0.1)
            my.log_metric("loss", 0.5, step=1)
            my.log_metrics({{"acc": 0.9}}, step=1)
            my.set_tag("kind", "light")
        client = my.Client()
        assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [0.5]
        assert client.get_run(run.info.run_id).data.params == {{"lr": "0.1"}}
    """
    assert heavy_loaded_after(code, tmp_path) == []


def test_an_embedded_client_loads_the_store_when_created(tmp_path: Path) -> None:
    code = """
        import sys
        import modelyard as my
        assert "sqlalchemy" not in sys.modules
        client = my.Client("store")
        run = client.create_run(client.create_experiment("e"))
        client.log_metric(run.info.run_id, "m", 1.0)
        assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    """
    assert "sqlalchemy" in heavy_loaded_after(code, tmp_path)


def test_without_psycopg_sqlite_works_and_postgresql_names_the_extra(tmp_path: Path) -> None:
    done = run(
        """
        import sys
        sys.modules["psycopg"] = None
        import modelyard as my
        from modelyard.errors import MissingExtra

        client = my.Client("store")  # the embedded default needs no extra
        run = client.create_run(client.create_experiment("e"))
        client.log_metric(run.info.run_id, "m", 1.0)
        try:
            my.Client("postgresql://me:s3cret@127.0.0.1:5432/db")
        except MissingExtra as exc:
            print(exc.error_code, exc.status, exc.message)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip()
    assert out.startswith("NOT_IMPLEMENTED 501 ")
    assert "postgresql://" in out and "pip install 'modelyard[postgres]'" in out
    assert "s3cret" not in out


def test_without_boto3_an_s3_location_names_the_extra(tmp_path: Path) -> None:
    done = run(
        """
        import sys
        sys.modules["boto3"] = None
        import modelyard as my
        from modelyard.errors import MissingExtra

        client = my.Client("store")
        exp = client.create_experiment("s3", artifact_location="s3://bucket/prefix")
        run = client.create_run(exp)
        try:
            client.log_text(run.info.run_id, "hello", "a.txt")
        except MissingExtra as exc:
            print(exc.message)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "s3://bucket/prefix" in done.stdout and "pip install 'modelyard[s3]'" in done.stdout


@pytest.mark.parametrize(
    ("absent", "flags", "extra"),
    [
        ("psycopg", ["--backend-store-uri", "postgresql://me:s3cret@127.0.0.1:5432/db"], "postgres"),
        ("boto3", ["--artifacts-destination", "s3://bucket/prefix"], "s3"),
    ],
)
def test_the_server_refuses_to_start_without_the_extra(absent: str, flags: list[str], extra: str, tmp_path: Path) -> None:
    argv = ["modelyard", "server", *flags, "--port", str(free_port())]
    done = run(
        f"""
        import sys
        sys.modules[{absent!r}] = None
        sys.argv = {argv!r}
        from modelyard.cli import main
        main()
        """,
        tmp_path,
    )
    assert done.returncode == 1
    assert "Error: " in done.stderr and f"pip install 'modelyard[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr


def test_the_api_answers_501_naming_the_extra(tmp_path: Path) -> None:
    """A server whose artifacts live in S3, without boto3: an artifact call is a 501 naming the extra, not a 500."""
    done = run(
        f"""
        import sys
        sys.modules["boto3"] = None
        from starlette.testclient import TestClient
        from modelyard.server import create_app
        from modelyard.settings import Settings

        settings = Settings(backend_store_uri="sqlite:///{tmp_path / 'x.db'}", artifacts_destination="s3://bucket/prefix",
                            background_workers=False)
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
            answer = http.put("/api/2.0/mlflow-artifacts/artifacts/0/a.txt", content=b"hello")
            print(answer.status_code, answer.text)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    status, body = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "501"
    answer = json.loads(body)
    assert answer["error_code"] == "NOT_IMPLEMENTED" and "pip install 'modelyard[s3]'" in answer["message"]
