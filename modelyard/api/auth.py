"""Operations on accounts, access tokens and permissions.

The users and permission routes are MLflow's basic-auth API (3.17), so its
``mlflow.server.get_app_client("basic-auth", ...)`` works against us; tokens are ours. Who may run
each is checked by its handler (oneself or an admin; MANAGE on the resource of a grant): the table's
permission is the floor.
"""

from __future__ import annotations

from . import schemas_auth as s
from .operations import API, EXT, Table, manage, read

t = Table("auth", "modelyard.service.handlers")
API3 = "/api/3.0/mlflow"
SIGNED_IN = read()  # any authenticated caller; the handler checks oneself-or-admin
ADMIN = manage()

CREATE_USER = t.add("create_user", "POST", f"{API}/users/create", s.CreateUser, "auth:create_user", ADMIN,
                    summary="Create a user or service account (admins).")
GET_USER = t.add("get_user", "GET", f"{API}/users/get", s.Username, "auth:get_user", SIGNED_IN, idempotent=True,
                 summary="A user by name (oneself, or any as an admin).")
CURRENT_USER = t.add("current_user", "GET", f"{API}/users/current", s.Empty, "auth:current_user", SIGNED_IN,
                     idempotent=True, summary="The caller's own account.")
LIST_USERS = t.add("list_users", "GET", f"{API}/users/list", s.Empty, "auth:list_users", ADMIN, idempotent=True,
                   summary="Every account (admins).")
UPDATE_PASSWORD = t.add("update_user_password", "PATCH", f"{API}/users/update-password", s.UpdatePassword,
                        "auth:update_password", SIGNED_IN, idempotent=True,
                        summary="Set a user's password (one's own, or any as an admin).")
UPDATE_ADMIN = t.add("update_user_admin", "PATCH", f"{API}/users/update-admin", s.UpdateAdmin,
                     "auth:update_admin", ADMIN, idempotent=True, summary="Make a user an admin or not (admins).")
DELETE_USER = t.add("delete_user", "DELETE", f"{API}/users/delete", s.Username, "auth:delete_user", ADMIN,
                    idempotent=True, summary="Delete an account with its tokens and grants (admins).")
GRANT = t.add("grant_user_permission", "POST", f"{API3}/users/permissions/grant", s.UserPermission,
              "auth:grant", SIGNED_IN, idempotent=True,
              summary="Give a user a level on an experiment or registered model (MANAGE on it needed).")
REVOKE = t.add("revoke_user_permission", "POST", f"{API3}/users/permissions/revoke", s.UserPermission,
               "auth:revoke", SIGNED_IN, idempotent=True,
               summary="Take a user's grant on a resource away (MANAGE on it needed).")
GET_PERMISSION = t.add("get_user_permission", "GET", f"{API3}/users/permissions/get", s.UserPermission,
                       "auth:get_permission", SIGNED_IN, idempotent=True,
                       summary="A user's effective level on a resource (oneself, or as its manager).")
LIST_RESOURCE_PERMISSIONS = t.add("list_resource_permissions", "GET", f"{EXT}/permissions/list",
                                  s.ResourcePermissions, "auth:list_resource_permissions", SIGNED_IN, idempotent=True,
                                  summary="Every user's and group's grant on a resource (as its manager).")
CREATE_TOKEN = t.add("create_token", "POST", f"{EXT}/tokens/create", s.CreateToken, "auth:create_token",
                     SIGNED_IN, summary="A new access token, shown once (one's own, or any account's as an admin).")
LIST_TOKENS = t.add("list_tokens", "GET", f"{EXT}/tokens/list", s.Username, "auth:list_tokens", SIGNED_IN,
                    idempotent=True, summary="A user's tokens, without their secrets.")
REVOKE_TOKEN = t.add("revoke_token", "POST", f"{EXT}/tokens/revoke", s.TokenId, "auth:revoke_token", SIGNED_IN,
                     idempotent=True, summary="Revoke a token: it stops working within the auth cache time.")
PROTECT_ALIAS = t.add("set_protected_alias", "POST", f"{EXT}/registered-models/alias/protect", s.ProtectAlias,
                      "auth:set_protected_alias", manage("registered_model", "name"), idempotent=True,
                      summary="Protect an alias of a registered model (no one may set or delete it) or lift that"
                              " (MANAGE on the model).")
AUTH_AUDIT = t.add("auth_audit", "GET", f"{EXT}/auth/audit", s.AuditPage, "auth:audit", ADMIN, idempotent=True,
                   summary="Grants, revokes, token creations and failed logins, oldest first (admins).")
CREATE_GROUP = t.add("create_group", "POST", f"{EXT}/groups/create", s.GroupName, "auth:create_group", ADMIN,
                    summary="Create a group of accounts (admins).")
DELETE_GROUP = t.add("delete_group", "POST", f"{EXT}/groups/delete", s.GroupName, "auth:delete_group", ADMIN,
                    idempotent=True, summary="Delete a group with its memberships and grants (admins).")
LIST_GROUPS = t.add("list_groups", "GET", f"{EXT}/groups/list", s.Empty, "auth:list_groups", ADMIN, idempotent=True,
                   summary="Every group and its members (admins).")
ADD_MEMBER = t.add("add_group_member", "POST", f"{EXT}/groups/members/add", s.GroupMember, "auth:add_member", ADMIN,
                   idempotent=True, summary="Put an account in a group (admins).")
REMOVE_MEMBER = t.add("remove_group_member", "POST", f"{EXT}/groups/members/remove", s.GroupMember,
                      "auth:remove_member", ADMIN, idempotent=True, summary="Take an account out of a group (admins).")
GRANT_GROUP = t.add("grant_group_permission", "POST", f"{EXT}/groups/permissions/grant", s.GroupPermission,
                    "auth:grant_group", SIGNED_IN, idempotent=True,
                    summary="Give a group a level on a resource: its members hold it unless granted otherwise"
                            " themselves (MANAGE on the resource needed).")
REVOKE_GROUP = t.add("revoke_group_permission", "POST", f"{EXT}/groups/permissions/revoke", s.GroupPermission,
                     "auth:revoke_group", SIGNED_IN, idempotent=True,
                     summary="Take a group's grant on a resource away (MANAGE on it needed).")
