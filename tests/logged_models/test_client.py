"""Our SDK's logged-model methods, in process (embedded store) and over HTTP (live server)."""

from __future__ import annotations

import pytest

from modelyard.client import Client
from modelyard.entities.logged_models import LoggedModelOutput, LoggedModelStatus
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist

from .conftest import unique


def test_round_trip_embedded(tmp_path):
    with Client(str(tmp_path / "store")) as sdk:
        _round_trip(sdk)


def test_round_trip_over_http(server):
    with Client(server.url) as sdk:
        _round_trip(sdk)


def _round_trip(sdk):
    exp = sdk.create_experiment(unique("sdk"))
    run_id = sdk.create_run(exp).info.run_id
    params = {f"p{i}": i for i in range(150)}
    model = sdk.create_logged_model(exp, name="m", source_run_id=run_id, tags={"t": 1}, params=params,
                                    model_type="clf")
    assert model.params == {k: str(v) for k, v in params.items()} and model.tags == {"t": "1"}
    assert model.status == LoggedModelStatus.PENDING and model.source_run_id == run_id
    assert sdk.finalize_logged_model(model.model_id).status == LoggedModelStatus.READY
    sdk.set_logged_model_tags(model.model_id, {"stage": "dev", "x": "y"})
    sdk.delete_logged_model_tag(model.model_id, "x")
    sdk.log_model_params(model.model_id, {"extra": 1})
    got = sdk.get_logged_model(model.model_id)
    assert got.tags == {"t": "1", "stage": "dev"} and got.params["extra"] == "1"
    sdk.log_outputs(run_id, [LoggedModelOutput(model.model_id, 1)])

    other = sdk.create_logged_model(exp, name="n")
    page = sdk.search_logged_models(exp, "name = 'm'")
    assert [m.model_id for m in page.items] == [model.model_id]
    first = sdk.search_logged_models([exp], max_results=1, order_by=[{"field_name": "name", "ascending": False}])
    assert [m.name for m in first.items] == ["n"] and first.next_page_token
    rest = sdk.search_logged_models([exp], max_results=1, order_by=[{"field_name": "name", "ascending": False}],
                                    page_token=first.next_page_token)
    assert [m.name for m in rest.items] == ["m"] and rest.next_page_token is None

    sdk.delete_logged_model(other.model_id)
    with pytest.raises(ResourceDoesNotExist):
        sdk.get_logged_model(other.model_id)
    assert sdk.get_logged_model(other.model_id, allow_deleted=True).model_id == other.model_id
    with pytest.raises(InvalidParameterValue):
        sdk.finalize_logged_model(model.model_id, "PENDING")
    with pytest.raises(InvalidParameterValue):
        sdk.search_logged_models([exp], "name >")
    with pytest.raises(ResourceDoesNotExist):
        sdk.delete_logged_model_tag(model.model_id, "missing")
