"""Content hashes for caching: of code (a function and the project functions it calls) and of values.

A step's code hash covers its own source and, transitively, the source of every
function or class of the *user's* project it references by global name or
``module.attribute`` — not the standard library, not installed packages, not
modelyard. So a changed helper function invalidates the cache of every step
that (indirectly) calls it.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import sys
import sysconfig
import types
from typing import Any

_SKIP_ROOTS = tuple(
    {os.path.realpath(p) for p in (sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("purelib"),
                                   sysconfig.get_paths().get("platlib"), sys.prefix, sys.base_prefix) if p}
)
_MODELYARD_ROOT = os.path.realpath(os.path.dirname(os.path.dirname(__file__)))


@functools.lru_cache(maxsize=4096)
def _is_project_file(path: str | None) -> bool:
    if not path:
        return False
    real = os.path.realpath(path)
    if real.startswith(_MODELYARD_ROOT + os.sep):
        return False
    return not any(real.startswith(root + os.sep) for root in _SKIP_ROOTS)


def _unwrap(obj: Any) -> Any:
    fn = getattr(obj, "fn", None)  # a Step or Pipeline wraps its function
    if fn is not None and callable(fn) and getattr(obj, "_is_pipeline_object", False):
        return fn
    return inspect.unwrap(obj) if callable(obj) else obj


def _own_source(obj: Any) -> str:
    code = getattr(obj, "__code__", None)
    if code is not None:
        return _code_text(code)
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return repr(obj)


@functools.lru_cache(maxsize=8192)
def _code_text(code: types.CodeType) -> str:
    try:
        return inspect.getsource(code)
    except (OSError, TypeError):
        return code.co_code.hex() + repr(code.co_consts)


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _project_refs(obj: Any) -> list[Any]:
    """Project functions/classes ``obj`` references (by global name or module attribute)."""
    fn = _unwrap(obj)
    found: list[Any] = []
    if isinstance(fn, type):
        for member in vars(fn).values():
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, types.FunctionType):
                found.extend(_project_refs(member))
        return found
    code = getattr(fn, "__code__", None)
    glb = getattr(fn, "__globals__", None)
    if code is None or glb is None:
        return found
    names = _names(code)
    for name in names:
        value = glb.get(name)
        if value is None:
            continue
        if isinstance(value, types.ModuleType):
            if _is_project_file(getattr(value, "__file__", None)):
                for attr in names:
                    sub = getattr(value, attr, None)
                    if sub is not None and _is_project_callable(sub):
                        found.append(sub)
            continue
        if _is_project_callable(value):
            found.append(value)
    return found


def _is_project_callable(value: Any) -> bool:
    target = _unwrap(value)
    if not isinstance(target, (types.FunctionType, type)):
        return False
    module = sys.modules.get(getattr(target, "__module__", "") or "")
    path = getattr(module, "__file__", None) if module is not None else None
    if path is None:
        code = getattr(target, "__code__", None)
        path = code.co_filename if code is not None else None
    return _is_project_file(path)


def code_hash(obj: Any, memo: dict[int, str] | None = None) -> str:
    """SHA-256 of ``obj``'s source and the sources of the project code it reaches."""
    memo = {} if memo is None else memo
    key = id(obj)
    if key in memo:
        return memo[key]
    seen: dict[int, Any] = {}
    stack = [obj]
    while stack:
        item = stack.pop()
        target = _unwrap(item)
        if id(target) in seen:
            continue
        seen[id(target)] = target
        stack.extend(_project_refs(target))
    h = hashlib.sha256()
    for text in sorted(_own_source(t) + _data_source(t) for t in seen.values()):
        h.update(text.encode("utf-8", "replace"))
        h.update(b"\0")
    memo[key] = h.hexdigest()
    return memo[key]


def _data_source(obj: Any) -> str:
    """The data a function's result depends on besides code: the module constants it
    reads, its closure cells and its default arguments (a changed ``LR = 0.1`` must
    miss the cache)."""
    fn = _unwrap(obj)
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    parts: list[str] = []
    glb = getattr(fn, "__globals__", None) or {}
    for name in sorted(_names(code)):
        if name in glb:
            value = glb[name]
            if not (isinstance(value, types.ModuleType) or callable(value)):
                parts.append(f"g:{name}={_data_hash(value)}")
    for i, cell in enumerate(getattr(fn, "__closure__", None) or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if not callable(value):
            parts.append(f"c{i}={_data_hash(value)}")
    for label, value in (("d", getattr(fn, "__defaults__", None)), ("k", getattr(fn, "__kwdefaults__", None))):
        if value:
            parts.append(f"{label}={_data_hash(value)}")
    return "\n#data " + ";".join(parts) if parts else ""


def _data_hash(value: Any) -> str:
    import pickle

    try:
        pickle.dumps(value, protocol=5)
    except Exception:  # locks, sockets…: not content; only notice a change of type
        return f"<{type(value).__qualname__}>"
    return value_hash(value)


# One encoder, built once (``json.dumps`` with options builds a new one per call): same text as
# ``json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)``.
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=True)
_SCALAR_HASHES: dict[Any, str] = {}


def value_hash(value: Any) -> str:
    """A content hash of a parameter value (JSON when possible, else bytes or pickle)."""
    if value is None or value is True or value is False:
        found = _SCALAR_HASHES.get(value)
        if found is None:
            found = _SCALAR_HASHES[value] = hashlib.sha256(_JSON.encode(value).encode("utf-8")).hexdigest()
        return found
    try:
        return hashlib.sha256(_JSON.encode(value).encode("utf-8")).hexdigest()
    except (TypeError, ValueError):
        pass
    module = type(value).__module__.split(".")[0]
    h = hashlib.sha256(type(value).__qualname__.encode())
    if module == "numpy" and hasattr(value, "tobytes"):
        h.update(str((value.dtype, value.shape)).encode())
        h.update(value.tobytes())
        return h.hexdigest()
    if module == "pandas" and hasattr(value, "columns"):
        import pandas as pd

        h.update(repr(list(value.columns)).encode())
        h.update(pd.util.hash_pandas_object(value, index=True).values.tobytes())
        return h.hexdigest()
    import pickle

    try:
        h.update(pickle.dumps(value, protocol=5))
    except Exception:
        h.update(repr(value).encode())
    return h.hexdigest()
