"""The pipeline registry: entry points and MODELYARD_PIPELINE_MODULES, loaded lazily, importing only dotted names."""

from __future__ import annotations

import sys

import pytest

from modelyard.errors import InvalidParameterValue
from modelyard.service.pipeline_registry import PipelineRegistry
from tests.pipelines.lease_support import T0

FLOW = '''
from modelyard.pipelines import pipeline, step


@step
def one() -> int:
    return 1


@pipeline(name="nightly-train")
def train():
    return one()


alias = train  # the same pipeline under a second attribute: registered once, by its own attribute
'''


@pytest.fixture
def code(tmp_path, monkeypatch):
    """A folder on sys.path holding an operator module and an installed distribution with entry points."""
    (tmp_path / "opflows_registry.py").write_text(FLOW)
    (tmp_path / "opbroken_registry.py").write_text("raise RuntimeError('broken at import')\n")
    dist = tmp_path / "opflows_registry-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: opflows-registry\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[modelyard.pipelines]\n"
        "from-entry-point = opflows_registry:train\n"
        "bad-path = /tmp/evil.py:x\n"
        "no-attr = opflows_registry\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("opflows_registry", "opbroken_registry"):
        sys.modules.pop(name, None)


def test_entry_points_resolve_by_name_without_importing(code):
    registry = PipelineRegistry("")
    found = registry.get("from-entry-point")
    assert found is not None and found.reference == "opflows_registry:train" and found.source == "entry point"
    assert "opflows_registry" not in sys.modules  # lazy: known from the metadata alone
    assert registry.get("bad-path") is None and registry.get("no-attr") is None  # not NAME = module:attr


def test_setting_modules_register_their_pipelines_by_name(code):
    registry = PipelineRegistry(" opflows_registry , opbroken_registry, /tmp/evil.py, evil.py, ")
    assert registry.modules == ["opflows_registry", "opbroken_registry", "/tmp/evil.py", "evil.py"]
    found = registry.get("nightly-train")
    assert found is not None and found.reference == "opflows_registry:train" and found.source == "setting"
    names = {p.name: p.reference for p in registry.all()}
    assert names["nightly-train"] == "opflows_registry:train"  # once, under its own attribute, not the alias
    assert "opbroken_registry" not in sys.modules  # a module failing at import registers nothing, and nothing crashes
    assert registry.get("one") is None  # a step is not a pipeline


def test_require_names_the_field_and_how_to_register(code):
    registry = PipelineRegistry("opflows_registry", use_entry_points=False)
    assert registry.require("nightly-train", "reference").name == "nightly-train"
    for bad in ("/srv/artifacts/0/x/evil.py:x", "opflows_registry:train", "evil.py", "missing", 42, None, "a\n"):
        with pytest.raises(InvalidParameterValue) as info:
            registry.require(bad, "reference")
        message = info.value.message
        assert message.startswith("Invalid reference")
        assert "MODELYARD_PIPELINE_MODULES" in message and "'modelyard.pipelines'" in message
        assert "registered: nightly-train" in message
        assert "/srv/artifacts" not in message
    empty = PipelineRegistry("", use_entry_points=False)
    with pytest.raises(InvalidParameterValue, match=r"registered: none"):
        empty.require("train", "reference")


def test_the_service_refuses_and_stores_names(service):
    with pytest.raises(InvalidParameterValue, match="names a file or module"):
        service.pipelines.create_schedule("s", "tests/pipelines/flows.py:daily", "0 3 * * *")
    with pytest.raises(InvalidParameterValue, match="not a pipeline registered"):
        service.pipelines.create_trigger("t", "api", "nope")
    assert service.pipelines.create_trigger("t", "api", "adder")["reference"] == "adder"
    assert {p["name"] for p in service.pipelines.registered()} >= {"adder", "daily"}


def test_the_scheduler_launches_registered_modules_and_never_a_stored_file(servers, clock):
    """Names resolve again at launch; rows stored before registration (naming a file) end 'unregistered'."""
    a = servers[0]
    pipelines = a.service.pipelines
    pipelines.create_schedule("hourly", "adder", "0 * * * *", now=T0)
    pipelines.create_trigger("good", "api", "adder")
    legacy = {"reference": "/srv/artifacts/0/x/evil.py:x", "params": "{}", "executor": None, "paused": False,
              "created_time": T0}
    a.service.store.pipelines.insert_schedule({**legacy, "name": "legacy-hourly", "cron": "0 * * * *",
                                               "date_param": None, "catchup": False, "next_tick_time": T0 + 1})
    a.service.store.pipelines.insert_trigger({**legacy, "name": "legacy", "kind": "api", "config": "{}",
                                              "token_hash": None, "cursor": None})
    pipelines.fire_trigger("good")
    pipelines.fire_trigger("legacy")
    clock[0] = T0 + 3_600_000
    assert a.tick() == 2  # the registered schedule's tick and trigger's event; nothing for the legacy rows
    for child in a.started:
        assert child.args[child.args.index("run") + 1] == "tests.pipelines.flows:adder"
        assert "--server-launched" in child.args
    assert [t["status"] for t in pipelines.schedule_ticks("legacy-hourly")] == ["unregistered"]
    assert [e["status"] for e in pipelines.trigger_events("legacy")] == ["unregistered"]
