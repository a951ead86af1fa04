"""Chart boards on SQLite and PostgreSQL: saved, read back, replaced, checked, forgotten, purged with their experiment."""

from __future__ import annotations

import pytest

from modelyard.api.schemas_charts import ChartBoardLayout, ChartPanel
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.service.charts import MAX_PANELS, parse_layout
from modelyard.store.maintenance import Maintenance


def test_save_read_replace_and_forget(service):
    exp = service.experiments.create("boards")
    assert service.charts.get(exp) is None  # the default board
    layout = ChartBoardLayout(panels=[ChartPanel(type="line", metric="loss", x="relative", smoothing=0.6, log=True),
                                      ChartPanel(type="parallel", axes=["params:lr", "metrics:loss"])],
                              group_by="params:model")
    saved = service.charts.set(exp, layout, "ana")
    again = service.charts.get(exp)
    assert again is not None and again.layout == layout and again.updated_by == "ana"
    assert again.updated_ms == saved.updated_ms
    service.charts.set(exp, ChartBoardLayout(panels=[ChartPanel(type="bar", metric="acc")]), None)
    replaced = service.charts.get(exp)
    assert replaced is not None and [p.type for p in replaced.layout.panels] == ["bar"] and replaced.updated_by is None
    assert service.charts.delete(exp) is True
    assert service.charts.get(exp) is None
    assert service.charts.delete(exp) is False


def test_purging_an_experiment_takes_its_board(service):
    exp = service.experiments.create("doomed")
    service.charts.set(exp, ChartBoardLayout(panels=[ChartPanel(type="bar", metric="acc")]), None)
    service.experiments.delete(exp)
    assert Maintenance(service.store.db).purge_experiment(int(exp)) is not None
    with pytest.raises(ResourceDoesNotExist):
        service.charts.get(exp)
    assert service.store.charts.get(int(exp)) is None


@pytest.mark.parametrize(("text", "names"), [
    ('{"panels": [{"type": "pie"}]}', "layout.panels[0].type"),
    ('{"panels": [{"type": "bar"}]}', "layout.panels[0].metric"),
    ('{"panels": [{"type": "line", "metric": "a", "smoothing": 1.5}]}', "layout.panels[0].smoothing"),
    ('{"panels": [{"type": "scatter", "x_key": "lr", "y_key": "metrics:a"}]}', "layout.panels[0].x_key"),
    ('{"panels": [{"type": "parallel", "axes": ["params:a"]}]}', "layout.panels[0].axes"),
    ('{"group_by": "metrics:loss"}', "layout.group_by"),
    ('{"panels": [{"type": "bar", "metric": "a", "colour": "red"}]}', "layout.panels[0]"),
    ('{"panels": [' + ",".join(['{"type": "bar", "metric": "a"}'] * (MAX_PANELS + 1)) + "]}", "layout.panels"),
    ("not json", "not JSON"),
])
def test_bad_layouts_name_the_field(text, names):
    with pytest.raises(InvalidParameterValue) as err:
        parse_layout(text)
    assert names in err.value.message
