"""Runs the server launches (``reuse_code_outputs=False``): stored pickle and model outputs are recomputed, never
loaded (anyone who reaches the server can record cache entries and upload artifacts); other kinds are still reused."""

from __future__ import annotations

import warnings

import pytest

from modelyard.errors import InvalidParameterValue
from modelyard.pipelines import (
    PickledOutputWarning,
    PipelineFailed,
    load_pipeline,
    resume,
)
from tests.pipelines.flows import boxes


def _statuses(result) -> dict[str, str]:
    return {k: str(t.status) for k, t in result.tasks.items()}


def _run(**options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PickledOutputWarning)
        return boxes.run(executor="inline", **options)


def test_cached_pickles_are_recomputed_and_other_kinds_reused(store, tmp_path):
    params = {"n": 2, "flag": str(tmp_path / "absent")}
    assert _run(params=params).output == 5
    trusted = _run(params=params)
    assert _statuses(trusted) == {"boxed": "CACHED", "plain": "CACHED", "join": "CACHED"}  # the user's own run
    launched = _run(params=params, reuse_code_outputs=False)
    assert launched.output == 5
    assert _statuses(launched)["boxed"] == "FINISHED" and _statuses(launched)["plain"] == "CACHED"


def test_resume_recomputes_pickled_steps_it_would_reuse(store, tmp_path):
    flag = tmp_path / "broken"
    flag.touch()
    with pytest.raises(PipelineFailed) as info:
        _run(params={"n": 3, "flag": str(flag)}, cache=False)
    flag.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PickledOutputWarning)
        again = resume(info.value.run_id, executor="inline", reuse_code_outputs=False,
                       reference="tests.pipelines.flows:boxes", allow_files=False)
    assert again.output == 7
    assert _statuses(again) == {"boxed": "FINISHED", "plain": "REUSED", "join": "FINISHED"}


def test_a_server_launched_load_refuses_a_file(tmp_path):
    with pytest.raises(InvalidParameterValue, match="never a file"):
        load_pipeline(f"{tmp_path / 'flows.py'}:demo", allow_files=False)
    assert load_pipeline("tests.pipelines.flows:boxes", allow_files=False) is boxes
