"""The pipelines a server may run: registered by its operator, never named by a client as a file.

Two sources, both chosen by whoever installs and configures the server:

- the entry-point group ``modelyard.pipelines`` of installed packages
  (``nightly = "myteam.flows:train"``), known by name without importing anything;
- the ``pipeline_modules`` setting (``MODELYARD_PIPELINE_MODULES=myteam.flows,other.flows``):
  every ``@pipeline`` object found in those modules, under its name. The modules are
  imported the first time a name is looked up that no entry point gives.

Schedules and triggers name a registered pipeline, and the scheduler resolves the
name here again when it launches a run. Only dotted module names from these two
sources are ever imported (``importlib.import_module``), never a path. An entry
point wins over a module's pipeline of the same name.

>>> registry = PipelineRegistry("tests.pipelines.flows")
>>> registry.get("adder").reference
'tests.pipelines.flows:adder'
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib.metadata import entry_points
from typing import Any

from ..errors import InvalidParameterValue
from .pipeline_values import valid_name

log = logging.getLogger("modelyard.pipelines")

ENTRY_POINT_GROUP = "modelyard.pipelines"
SETTING = "MODELYARD_PIPELINE_MODULES"
HOW_TO_REGISTER = (
    f"Register a pipeline on the server: list its module in {SETTING} (e.g. {SETTING}=myteam.flows: every"
    f" @pipeline there, by its name) or declare it in the entry-point group '{ENTRY_POINT_GROUP}' of an"
    " installed package (nightly = \"myteam.flows:train\"); then restart the server."
)
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")  # used with fullmatch
_ATTR = _MODULE  # a dotted attribute path inside the module
SHOWN = 20  # registered names listed in a refusal


@dataclass(frozen=True)
class RegisteredPipeline:
    """A pipeline the server may run: its name, ``module:attr`` and where it was registered."""

    name: str
    reference: str
    source: str  # "entry point" or "setting"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _module_name(module: str) -> bool:
    """A dotted module name (never a path; never ending in ``.py``, which would read as a file)."""
    return bool(_MODULE.fullmatch(module)) and not module.endswith(".py")


class PipelineRegistry:
    """Registered pipelines by name, loaded lazily and once (thread-safe)."""

    def __init__(self, modules: str | Iterable[str] = "", *, use_entry_points: bool = True) -> None:
        names = modules.split(",") if isinstance(modules, str) else list(modules)
        self.modules = [m.strip() for m in names if m.strip()]
        self.use_entry_points = use_entry_points
        self._lock = threading.Lock()
        self._from_entry_points: dict[str, RegisteredPipeline] | None = None
        self._from_modules: dict[str, RegisteredPipeline] | None = None

    def get(self, name: Any) -> RegisteredPipeline | None:
        """The registered pipeline called ``name``, or None."""
        if not isinstance(name, str) or not valid_name(name):
            return None
        found = self._entry_points().get(name)
        return found if found is not None else self._modules().get(name)

    def all(self) -> list[RegisteredPipeline]:
        """Every registered pipeline, by name (imports the setting's modules)."""
        merged = {**self._modules(), **self._entry_points()}
        return [merged[k] for k in sorted(merged)]

    def require(self, name: Any, field: str) -> RegisteredPipeline:
        """The registered pipeline ``name``; else INVALID_PARAMETER_VALUE naming ``field`` and how to register."""
        found = self.get(name)
        if found is not None:
            return found
        if isinstance(name, str) and (":" in name or "/" in name or "\\" in name or name.endswith(".py")):
            why = (f"Invalid {field}: it names a file or module, and schedules and triggers name a pipeline registered"
                   " on this server, never code to import")  # the path is not echoed
        else:
            why = f"Invalid {field} {repr(name)[:100]}: it is not a pipeline registered on this server"
        names = [p.name for p in self.all()]
        listed = ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "") if names else "none"
        raise InvalidParameterValue(f"{why} (registered: {listed}). {HOW_TO_REGISTER}")

    # ---- loading ----------------------------------------------------------------------------

    def _entry_points(self) -> dict[str, RegisteredPipeline]:
        if self._from_entry_points is None:
            with self._lock:
                if self._from_entry_points is None:
                    self._from_entry_points = _read_entry_points() if self.use_entry_points else {}
        return self._from_entry_points

    def _modules(self) -> dict[str, RegisteredPipeline]:
        if self._from_modules is None:
            with self._lock:
                if self._from_modules is None:
                    found: dict[str, RegisteredPipeline] = {}
                    for module in self.modules:
                        for entry in _scan(module):
                            if found.setdefault(entry.name, entry) is not entry:
                                log.warning("pipeline %r of %s is already registered from %s: ignored",
                                            entry.name, entry.reference, found[entry.name].reference)
                    self._from_modules = found
        return self._from_modules


def _read_entry_points() -> dict[str, RegisteredPipeline]:
    out: dict[str, RegisteredPipeline] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        module, sep, attr = ep.value.partition(":")
        module, attr = module.strip(), attr.strip()
        if not valid_name(ep.name) or not sep or not _module_name(module) or not _ATTR.fullmatch(attr):
            log.warning("entry point %r = %r of group %s is not NAME = \"package.module:attr\": ignored",
                        ep.name, ep.value, ENTRY_POINT_GROUP)
            continue
        out.setdefault(ep.name, RegisteredPipeline(ep.name, f"{module}:{attr}", "entry point"))
    return out


def _scan(module: str) -> list[RegisteredPipeline]:
    """The ``@pipeline`` objects of ``module`` (imported by its dotted name), each under its attribute."""
    if not _module_name(module):
        log.warning("%s lists %r, which is not a dotted module name: ignored", SETTING, module)
        return []
    try:
        loaded = importlib.import_module(module)
    except Exception:
        log.exception("%s lists module %r, which could not be imported: its pipelines are not registered",
                      SETTING, module)
        return []
    attrs: dict[int, list[str]] = {}  # a pipeline may sit under several names (an alias): one entry each
    objects: dict[int, Any] = {}
    for attr, obj in vars(loaded).items():
        if getattr(type(obj), "_is_registrable_pipeline", False) is True:
            attrs.setdefault(id(obj), []).append(attr)
            objects[id(obj)] = obj
    out: list[RegisteredPipeline] = []
    for key, obj in objects.items():
        found = attrs[key]
        own = getattr(obj, "__name__", None)
        label = own if isinstance(own, str) and own in found else min(found)
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not valid_name(name):
            log.warning("pipeline %s:%s has the name %r, which a schedule cannot name: ignored", module, label, name)
            continue
        out.append(RegisteredPipeline(name, f"{module}:{label}", "setting"))
    return sorted(out, key=lambda p: p.name)
