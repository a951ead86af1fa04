"""The official client's trace info (``POST /api/3.0/mlflow/traces``, once per trace) takes the hot path,
as MLflow's small run writes do."""

from __future__ import annotations

from modelyard.server.app import create_app
from modelyard.settings import Settings


def test_start_trace_is_a_hot_call(tmp_path):
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path}/m.db", artifacts_destination=str(tmp_path / "a"))
    app = create_app(settings)
    try:
        assert app.hot.find({"method": "POST", "path": "/api/3.0/mlflow/traces"}) is not None
        assert app.hot.find({"method": "POST", "path": "/api/3.0/mlflow/traces/search"}) is None
    finally:
        app.hot.close()
        app.state.service.close()
