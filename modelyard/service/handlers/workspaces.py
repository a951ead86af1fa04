"""Handlers of the workspaces API (``api/workspaces.py``)."""

from __future__ import annotations

from typing import Any

from ...api import schemas_workspaces as s
from ...errors import InvalidParameterValue
from .. import TrackingService
from ..workspaces import workspace_json


def list_workspaces(svc: TrackingService, req: s.Empty) -> dict[str, Any]:
    return {"workspaces": [workspace_json(w) for w in svc.workspaces.all()]}


def get_workspace(svc: TrackingService, req: s.WorkspaceName) -> dict[str, Any]:
    return {"workspace": workspace_json(svc.workspaces.get(req.workspace_name))}


def create_workspace(svc: TrackingService, req: s.CreateWorkspace) -> dict[str, Any]:
    if not req.name:
        raise InvalidParameterValue("Missing value for required parameter 'name'.")
    return {"workspace": workspace_json(svc.workspaces.create(req.name, req.description, req.default_artifact_root))}


def update_workspace(svc: TrackingService, req: s.UpdateWorkspace) -> dict[str, Any]:
    found = svc.workspaces.update(req.workspace_name, req.description, req.default_artifact_root)
    return {"workspace": workspace_json(found)}


def delete_workspace(svc: TrackingService, req: s.DeleteWorkspace) -> None:
    svc.workspaces.delete(req.workspace_name, req.mode)


def set_protected_alias(svc: TrackingService, req: s.ProtectWorkspaceAlias) -> dict[str, Any]:
    if not req.workspace:
        raise InvalidParameterValue("Missing value for required parameter 'workspace'.")
    if not req.alias:
        raise InvalidParameterValue("Missing value for required parameter 'alias'.")
    aliases = svc.workspaces.set_protected_alias(req.workspace, req.alias, req.protected)
    return {"workspace": req.workspace, "protected_aliases": aliases}
