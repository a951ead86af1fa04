"""A step's cache key changes with the data its code reads, not only with the code."""

from __future__ import annotations

import types

from modelyard.pipelines.fingerprint import code_hash


def _module(source: str) -> types.ModuleType:
    module = types.ModuleType("project_module")
    module.__file__ = "/tmp/project_module.py"
    exec(source, module.__dict__)  # noqa: S102 - the test's own source, as a module would run it
    return module


def test_a_changed_module_constant_changes_the_key():
    before = _module("LR = 0.1\ndef train(x):\n    return x * LR\n")
    after = _module("LR = 0.5\ndef train(x):\n    return x * LR\n")
    assert code_hash(before.train) != code_hash(after.train)


def test_closure_values_and_defaults_count():
    def make(k):
        def step(x, scale=2):
            return (x + k) * scale

        return step

    assert code_hash(make(1)) != code_hash(make(2))
    assert code_hash(make(1)) == code_hash(make(1))
    changed = make(1)
    changed.__defaults__ = (3,)
    assert code_hash(changed) != code_hash(make(1))


def test_unpicklable_globals_do_not_make_keys_unstable():
    first = _module("LOCK = __import__('threading').Lock()\ndef step(x):\n    with LOCK:\n        return x\n")
    second = _module("LOCK = __import__('threading').Lock()\ndef step(x):\n    with LOCK:\n        return x\n")
    assert code_hash(first.step) == code_hash(second.step)

