"""Account, token and permission methods of ``Client`` (MLflow's auth API, and our tokens).

>>> c = my.Client("http://admin:secret@127.0.0.1:5000")
>>> c.create_user("ana", "a long password")
>>> c.grant_permission("ana", "experiment", "1", "EDIT")
>>> secret = c.create_token("ana", "laptop")["token"]   # shown once
"""

from __future__ import annotations

from typing import Any

from ..api import auth as ops
from ..api import schemas_auth as s
from ..api.operations import Operation


class AuthMethods:
    def _call(self, op: Operation, request: Any) -> dict[str, Any]:
        raise NotImplementedError  # the Client's

    def create_user(self, username: str, password: str | None = None, is_admin: bool = False,
                    kind: str = "user") -> dict[str, Any]:
        """A person (with a password) or a service account (``kind="service"``: tokens only)."""
        req = s.CreateUser(username=username, password=password, is_admin=is_admin, kind=kind)
        return self._call(ops.CREATE_USER, req)["user"]  # type: ignore[no-any-return]

    def get_user(self, username: str) -> dict[str, Any]:
        return self._call(ops.GET_USER, s.Username(username=username))["user"]  # type: ignore[no-any-return]

    def current_user(self) -> dict[str, Any]:
        return self._call(ops.CURRENT_USER, s.Empty())["user"]  # type: ignore[no-any-return]

    def list_users(self) -> list[dict[str, Any]]:
        return list(self._call(ops.LIST_USERS, s.Empty()).get("users", []))

    def update_user_password(self, username: str, password: str) -> None:
        self._call(ops.UPDATE_PASSWORD, s.UpdatePassword(username=username, password=password))

    def update_user_admin(self, username: str, is_admin: bool) -> None:
        self._call(ops.UPDATE_ADMIN, s.UpdateAdmin(username=username, is_admin=is_admin))

    def delete_user(self, username: str) -> None:
        self._call(ops.DELETE_USER, s.Username(username=username))

    def grant_permission(self, username: str, resource_type: str, resource_id: str, permission: str) -> None:
        """Give ``username`` READ, EDIT, MANAGE or NO_PERMISSIONS on an experiment or registered model."""
        req = s.UserPermission(username=username, resource_type=resource_type, resource_id=str(resource_id),
                               permission=permission)
        self._call(ops.GRANT, req)

    def revoke_permission(self, username: str, resource_type: str, resource_id: str) -> None:
        req = s.UserPermission(username=username, resource_type=resource_type, resource_id=str(resource_id))
        self._call(ops.REVOKE, req)

    def get_permission(self, username: str, resource_type: str, resource_id: str) -> str:
        """The level ``username`` holds on the resource (their grant, else the server's default)."""
        req = s.UserPermission(username=username, resource_type=resource_type, resource_id=str(resource_id))
        return str(self._call(ops.GET_PERMISSION, req)["permission"])

    def create_token(self, username: str | None, name: str, expires_days: float | None = None) -> dict[str, Any]:
        """``{"token": secret, "info": {...}}``: the secret is shown this once."""
        return self._call(ops.CREATE_TOKEN, s.CreateToken(username=username, name=name, expires_days=expires_days))

    def list_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        return list(self._call(ops.LIST_TOKENS, s.Username(username=username)).get("tokens", []))

    def revoke_token(self, token_id: int, username: str | None = None) -> None:
        self._call(ops.REVOKE_TOKEN, s.TokenId(username=username, token_id=token_id))
