"""A gate reads its evaluation data as the caller: with --auth, data in an experiment the caller may not
read fails the gate with nothing revealed (only statistics would come back, and not those either)."""

from __future__ import annotations

import io

import pytest

from modelyard.errors import PermissionDenied
from modelyard.service import TrackingService
from modelyard.service.caller import caller
from modelyard.service.promotion_gates import GateContext
from modelyard.settings import Settings


def test_a_gate_reads_evaluation_data_only_where_the_caller_may_read(db_uri, tmp_path) -> None:
    svc = TrackingService(Settings(backend_store_uri=db_uri, artifacts_destination=str(tmp_path / "artifacts"),
                                   background_workers=False, auth=True, auth_default_permission="NO_PERMISSIONS"))
    try:
        secret = svc.experiments.create("secret-data")
        run = svc.runs.create(secret).info
        svc.artifacts.repository(run.artifact_uri).put("eval.csv", io.BytesIO(b"x,y\n1,2\n"))
        svc.registry.create_registered_model("churn")
        mv = svc.registry.create_model_version("churn", "s3://bucket/m")
        svc.auth.create_user("eve", "a long enough password")
        eve = svc.auth.principal(svc.auth.get_user("eve"))
        root = eve._replace(is_admin=True)
        gates = GateContext(svc, mv, "champion", None, list, "eve")
        try:
            token = caller.set(eve)
            try:
                with pytest.raises(PermissionDenied) as denied:
                    gates.dataset(f"runs:/{run.run_id}/eval.csv", "dataset")
                assert "secret" not in denied.value.message and run.run_id not in denied.value.message
            finally:
                caller.reset(token)
            token = caller.set(root)
            try:
                with open(gates.dataset(f"runs:/{run.run_id}/eval.csv", "dataset")) as f:
                    assert f.read() == "x,y\n1,2\n"
            finally:
                caller.reset(token)
        finally:
            gates.close()
    finally:
        svc.close()
