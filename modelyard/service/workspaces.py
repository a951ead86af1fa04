"""Workspaces, as MLflow 3.17 has them: dev, staging and prod kept apart on one server.

Experiments and registered models belong to one workspace: the one the request names (MLflow's
``X-MLFLOW-WORKSPACE`` header, sent by ``mlflow.set_workspace``), else ``default``; searches look
in that workspace only. A grant on a workspace applies to each experiment and registered model in
it that the user (or their group) holds no grant on. An alias can be protected on every model of a
workspace (``champion`` in prod): a plain ``set_registered_model_alias`` on it is refused.

Names follow MLflow: lowercase letters, digits and inner hyphens, 2 to 63 characters. Names of
experiments and registered models are unique per workspace, as MLflow's: ``dev`` and ``prod`` may
each hold a model ``churn``, and every name a request gives (get-by-name, ``models:/`` URIs,
prompts, searches, grants) is resolved in its workspace (``store.workspaces.scope``). A grant on
a registered model outside ``default`` is kept under ``<workspace>:<name>``.
"""

from __future__ import annotations

import re
import time

from ..errors import InvalidParameterValue, InvalidState, ResourceAlreadyExists, ResourceDoesNotExist
from ..store import TrackingStore
from ..store.workspaces import WorkspaceRow
from .caller import DEFAULT_WORKSPACE, visibility

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MIN_NAME, MAX_NAME = 2, 63
MODES = ("RESTRICT", "SET_DEFAULT", "CASCADE")


def check_name(name: str | None) -> str:
    if name == DEFAULT_WORKSPACE:
        return name
    if not name or not MIN_NAME <= len(name) <= MAX_NAME or not NAME.match(name):
        raise InvalidParameterValue(
            f"Invalid workspace name '{name}': use {MIN_NAME} to {MAX_NAME} lowercase letters, digits and hyphens,"
            " starting and ending with a letter or digit.")
    return name


def workspace_json(w: WorkspaceRow) -> dict[str, object]:
    """A workspace as MLflow's workspace API answers it (ours adds its protected aliases)."""
    out: dict[str, object] = {"name": w.name}
    if w.description is not None:
        out["description"] = w.description
    if w.default_artifact_root is not None:
        out["default_artifact_root"] = w.default_artifact_root
    if w.protected_aliases:
        out["protected_aliases"] = list(w.protected_aliases)
    return out


class WorkspaceService:
    def __init__(self, store: TrackingStore) -> None:
        self.store = store.workspaces

    def ensure_default(self) -> None:
        if self.store.get(DEFAULT_WORKSPACE) is None:
            self.store.create(DEFAULT_WORKSPACE, "The default workspace", None, 0)  # False if another process did

    def get(self, name: str | None) -> WorkspaceRow:
        found = self.store.get(check_name(name))
        if found is None:
            raise ResourceDoesNotExist(f"Workspace '{name}' not found.")
        return found

    def all(self) -> list[WorkspaceRow]:
        """Every workspace the caller may read."""
        return self.store.all(visibility())

    def create(self, name: str | None, description: str | None = None,
               default_artifact_root: str | None = None) -> WorkspaceRow:
        name = check_name(name)
        if not self.store.create(name, description, default_artifact_root or None, int(time.time() * 1000)):
            raise ResourceAlreadyExists(f"Workspace '{name}' already exists.")
        return self.get(name)

    def update(self, name: str | None, description: str | None = None,
               default_artifact_root: str | None = None) -> WorkspaceRow:
        found = self.get(name)
        values: dict[str, object] = {}
        if description is not None:
            values["description"] = description
        if default_artifact_root is not None:
            values["default_artifact_root"] = default_artifact_root or None  # "" clears it, as MLflow
        if values:
            self.store.update(found.name, **values)
        return self.get(found.name)

    def delete(self, name: str | None, mode: str | None = None) -> None:
        """RESTRICT (the default): only an empty workspace; SET_DEFAULT: its contents move to ``default``."""
        found = self.get(name)
        mode = (mode or "RESTRICT").upper()
        if mode not in MODES:
            raise InvalidParameterValue(f"Invalid mode '{mode}': use RESTRICT or SET_DEFAULT.")
        if found.name == DEFAULT_WORKSPACE:
            raise InvalidState("The default workspace cannot be deleted.")
        if mode == "CASCADE":
            raise InvalidParameterValue(
                "mode CASCADE is not supported: delete the workspace's experiments and models first, or use"
                " SET_DEFAULT to move them to the default workspace.")
        used = self.store.used(found.name)
        if mode == "RESTRICT" and used:
            raise InvalidState(
                f"Workspace '{found.name}' holds {used} experiments and registered models: delete or move them"
                " first, or delete with mode SET_DEFAULT to move them to the default workspace.")
        if mode == "SET_DEFAULT":
            clashes = self.store.clashes(found.name, DEFAULT_WORKSPACE)
            if clashes:
                raise InvalidState(
                    f"Workspace '{found.name}' cannot move its contents to the default workspace: it already has"
                    f" experiments or registered models named {', '.join(repr(n) for n in clashes[:10])}. Rename"
                    " or delete one of each pair first.")
        if not self.store.delete(found.name, DEFAULT_WORKSPACE if mode == "SET_DEFAULT" else None):
            raise InvalidState(f"Workspace '{found.name}' changed while it was being deleted: try again.")

    def set_protected_alias(self, name: str | None, alias: str, protected: bool = True) -> list[str]:
        """Protect ``alias`` on every registered model of the workspace (or lift that); its protected aliases after."""
        from .registry import check_alias

        found = self.get(name)
        check_alias(alias)
        aliases = sorted({a for a in found.protected_aliases if a != alias} | ({alias} if protected else set()))
        self.store.update(found.name, protected_aliases=aliases)
        return aliases

    def protected_aliases_of_model(self, model_name: str) -> list[str]:
        workspace = self.store.of("registered_model", model_name)
        found = self.store.get(workspace) if workspace else None
        return list(found.protected_aliases) if found is not None else []
