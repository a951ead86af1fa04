"""Operations on workspaces: MLflow 3.17's workspace API, and aliases protected across a workspace (ours).

Anyone signed in lists the workspaces they may read and reads one they may; admins create, change
and delete them; a workspace's managers protect its aliases.
"""

from __future__ import annotations

from . import schemas_workspaces as s
from .operations import EXT, Table, manage, read

t = Table("workspaces", "modelyard.service.handlers")
W = "/api/3.0/mlflow/workspaces"

LIST_WORKSPACES = t.add("list_workspaces", "GET", W, s.Empty, "workspaces:list_workspaces", read(),
                        idempotent=True, summary="The workspaces the caller may read.")
GET_WORKSPACE = t.add("get_workspace", "GET", f"{W}/{{workspace_name}}", s.WorkspaceName,
                      "workspaces:get_workspace", read("workspace", "workspace_name"), idempotent=True,
                      summary="A workspace by name.")
CREATE_WORKSPACE = t.add("create_workspace", "POST", W, s.CreateWorkspace, "workspaces:create_workspace", manage(),
                         status=201, summary="Create a workspace (admins).")
UPDATE_WORKSPACE = t.add("update_workspace", "PATCH", f"{W}/{{workspace_name}}", s.UpdateWorkspace,
                         "workspaces:update_workspace", manage(), idempotent=True,
                         summary="Change a workspace's description or default artifact root (admins).")
DELETE_WORKSPACE = t.add("delete_workspace", "DELETE", f"{W}/{{workspace_name}}", s.DeleteWorkspace,
                         "workspaces:delete_workspace", manage(), idempotent=True, query=True, status=204,
                         summary="Delete a workspace: RESTRICT (empty only) or SET_DEFAULT (its contents move to"
                                 " the default workspace) (admins).")
PROTECT_WORKSPACE_ALIAS = t.add("set_workspace_protected_alias", "POST", f"{EXT}/workspaces/alias/protect",
                                s.ProtectWorkspaceAlias, "workspaces:set_protected_alias",
                                manage("workspace", "workspace"), idempotent=True,
                                summary="Protect an alias on every registered model of a workspace, or lift that"
                                        " (MANAGE on the workspace).")
