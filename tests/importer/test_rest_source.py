"""Import from a running tracking server through MLflow's REST API.

The source server is our own ``modelyard server`` (it speaks MLflow's REST API
and serves artifacts as ``mlflow server`` does), populated by the official
client: a real ``mlflow server`` needs the full ``mlflow`` package, which the
test environment does not carry (mlflow-skinny has no server), and building a
venv for it takes longer than this folder's budget.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from modelyard import Client
from modelyard.importer import Importer, open_source
from tests.conftest import serving
from tests.mlflow_support import reset_fluent_state

from .compare import assert_same
from .populate import populate


def test_a_running_server_is_copied_once(_mlflow_env: None, tmp_path: Path) -> None:
    with serving("sqlite", tmp_path / "source") as live:
        with warnings.catch_warnings():  # MLflow's deprecation notices (stages) while building the data
            warnings.simplefilter("ignore")
            populate(live.url, None)
        reset_fluent_state()
        source = open_source(live.url)
        try:
            assert source.label == live.url
            with Client(str(tmp_path / "store")) as target:
                first = Importer(source, target).run()
                assert first.copied["runs"] == 6 and first.copied["model versions"] == 2
                assert first.copied["artifact files"] >= 2
                assert_same(live.url, target)
                again = Importer(source, target).run()
                assert again.copied["runs"] == again.copied["model versions"] == again.copied["logged models"] == 0
                assert_same(live.url, target)
        finally:
            source.close()
