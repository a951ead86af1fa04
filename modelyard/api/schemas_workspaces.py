"""Request structs of the workspaces API (MLflow 3.17's ``/api/3.0/mlflow/workspaces``)."""

from __future__ import annotations

from typing import Any, Optional

from .schemas import Request


class Empty(Request):
    pass


class WorkspaceName(Request):
    workspace_name: str = ""


class CreateWorkspace(Request):
    name: Optional[str] = None
    description: Optional[str] = None
    default_artifact_root: Optional[str] = None
    trace_archival_config: Optional[dict[str, Any]] = None


class UpdateWorkspace(Request):
    workspace_name: str = ""
    description: Optional[str] = None
    default_artifact_root: Optional[str] = None
    trace_archival_config: Optional[dict[str, Any]] = None


class DeleteWorkspace(Request):
    workspace_name: str = ""
    mode: Optional[str] = None


class ProtectWorkspaceAlias(Request):
    workspace: Optional[str] = None
    alias: Optional[str] = None
    protected: bool = True
