"""Checks run before the first step: each a small named function yielding problems with file:line.

Parameters are checked against the pipeline's signature (unknown, missing,
wrong type); the pipeline's source is read (AST) for step calls whose arguments
cannot bind, whose literal or upstream-declared types don't match a step's
annotations, and handles that escape the pipeline (``global``/``nonlocal``,
closures defined in the pipeline body).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any, cast

from .errors import PipelineCheckError, Problem
from .params import coerce, compatible, type_name
from .step import Step

Check = Callable[[Any, dict[str, Any]], Iterator[Problem]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def run_checks(pipeline: Any, params: dict[str, Any]) -> None:
    """Raise :class:`PipelineCheckError` listing every problem found."""
    problems = [p for c in CHECKS for p in c(pipeline, params)]
    if problems:
        raise PipelineCheckError(problems)


@check
def unknown_parameters(pipeline: Any, params: dict[str, Any]) -> Iterator[Problem]:
    sig = pipeline.signature
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    for name in params:
        if name not in sig.parameters:
            yield Problem(*_location(pipeline), "unknown-parameter",
                          f"pipeline {pipeline.name!r} has no parameter {name!r} (it takes: {', '.join(sig.parameters) or 'none'})")


@check
def missing_parameters(pipeline: Any, params: dict[str, Any]) -> Iterator[Problem]:
    for name, p in pipeline.signature.parameters.items():
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name not in params:
            yield Problem(*_location(pipeline), "missing-parameter", f"pipeline {pipeline.name!r} needs parameter {name!r}")


@check
def parameter_types(pipeline: Any, params: dict[str, Any]) -> Iterator[Problem]:
    for name, value in params.items():
        if name in pipeline.hints and name in pipeline.signature.parameters:
            try:
                coerce(value, pipeline.hints[name])
            except TypeError as exc:
                yield Problem(*_location(pipeline), "parameter-type", f"parameter {name!r} {exc}")


def _location(pipeline: Any) -> tuple[str, int]:
    """The pipeline's ``(file, line)``, where a problem with its parameters is reported."""
    return cast("tuple[str, int]", pipeline.location)


def _tree(fn: Callable[..., Any]) -> tuple[ast.Module, int, str] | None:
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return None
    return tree, start - 1, fn.__code__.co_filename


def _resolve(pipeline: Any, node: ast.AST) -> Step | None:
    if isinstance(node, ast.Name):
        value = pipeline.fn.__globals__.get(node.id)
        if value is None and pipeline.fn.__closure__:
            free = dict(zip(pipeline.fn.__code__.co_freevars, pipeline.fn.__closure__))
            cell = free.get(node.id)
            value = cell.cell_contents if cell is not None else None
        return value if isinstance(value, Step) else None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        module = pipeline.fn.__globals__.get(node.value.id)
        value = getattr(module, node.attr, None)
        return value if isinstance(value, Step) else None
    return None


def _step_calls(pipeline: Any) -> Iterator[tuple[ast.Call, Step, bool, int, str]]:
    parsed = _tree(pipeline.fn)
    if parsed is None:
        return
    tree, offset, file = parsed
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, is_map = node.func, False
        if isinstance(func, ast.Attribute) and func.attr == "map":
            func, is_map = func.value, True
        target = _resolve(pipeline, func)
        if target is not None:
            yield node, target, is_map, node.lineno + offset, file


class _Placeholder:
    pass


@check
def step_arguments(pipeline: Any, params: dict[str, Any]) -> Iterator[Problem]:
    for call, target, is_map, line, file in _step_calls(pipeline):
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            continue
        n = len(call.args)
        args = [_Placeholder()] * n
        kwargs = {k.arg: _Placeholder() for k in call.keywords if k.arg}
        try:
            target.signature.bind(*args, **kwargs)
        except TypeError as exc:
            what = f"{target.name}.map" if is_map else target.name
            yield Problem(file, line, "step-arguments", f"{what}(...): {exc}")


def _literal_type(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return type(node.value)
    return {ast.List: list, ast.Dict: dict, ast.Tuple: tuple, ast.Set: set, ast.JoinedStr: str}.get(type(node))


@check
def input_types(pipeline: Any, params: dict[str, Any]) -> Iterator[Problem]:
    parsed = _tree(pipeline.fn)
    if parsed is None:
        return
    tree, _, _ = parsed
    produced: dict[str, tuple[Any, str]] = {}  # variable -> (declared return type, step name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)):
            src = _resolve(pipeline, node.value.func)
            if src is not None:
                produced[node.targets[0].id] = (src.hints.get("return"), src.name)
    declared = {name: pipeline.hints.get(name) for name in pipeline.signature.parameters}
    for call, target, is_map, line, file in _step_calls(pipeline):
        if is_map:
            continue
        names = list(target.signature.parameters)
        pairs = list(zip(names, call.args)) + [(k.arg, k.value) for k in call.keywords
                                                    if k.arg is not None and k.arg in target.signature.parameters]
        for name, arg in pairs:
            expected = target.hints.get(name)
            if expected is None:
                continue
            lit = _literal_type(arg)
            if lit is not None and isinstance(arg, ast.Constant):
                try:
                    coerce(arg.value, expected)
                except TypeError:
                    yield Problem(file, line, "input-type",
                                  f"{target.name}(): input {name!r} expects {type_name(expected)}, got literal {arg.value!r}")
                continue
            if lit is not None and not compatible(lit, expected):
                yield Problem(file, line, "input-type",
                              f"{target.name}(): input {name!r} expects {type_name(expected)}, got a {lit.__name__}")
                continue
            if isinstance(arg, ast.Name):
                if arg.id in produced:
                    ret, src_name = produced[arg.id]
                    if ret is not None and not compatible(ret, expected):
                        yield Problem(file, line, "input-type",
                                      f"{target.name}(): input {name!r} expects {type_name(expected)}, but step "
                                      f"{src_name!r} declares it returns {type_name(ret)}")
                elif declared.get(arg.id) is not None and not compatible(declared[arg.id], expected):
                    yield Problem(file, line, "input-type",
                                  f"{target.name}(): input {name!r} expects {type_name(expected)}, but pipeline "
                                  f"parameter {arg.id!r} is {type_name(declared[arg.id])}")


@check
def handles_escaping(pipeline: Any, params: dict[str, Any]) -> Iterator[Problem]:
    parsed = _tree(pipeline.fn)
    if parsed is None:
        return
    tree, offset, file = parsed
    body = tree.body[0] if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) else tree
    handle_vars = set()
    assigns = [n for n in ast.walk(body) if isinstance(n, ast.Assign)]
    for _ in range(3):  # a handle copied to another name is still a handle
        for assign in assigns:
            value = assign.value
            if (isinstance(value, ast.Call) and _resolve(pipeline, value.func)) or (
                isinstance(value, ast.Name) and value.id in handle_vars
            ):
                handle_vars |= {t.id for t in assign.targets if isinstance(t, ast.Name)}
    for node in ast.walk(body):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            leaked = handle_vars & set(node.names)
            if leaked:
                yield Problem(file, node.lineno + offset, "handle-outside-pipeline",
                              f"handle {sorted(leaked)[0]!r} is made {type(node).__name__.lower()}: it would be used "
                              "outside its pipeline; return it from the pipeline instead")
        if node is not body and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & handle_vars
            if used:
                yield Problem(file, node.lineno + offset, "handle-outside-pipeline",
                              f"a function defined in the pipeline uses handle {sorted(used)[0]!r}; it may run after "
                              "the pipeline: pass the handle to a step instead")


