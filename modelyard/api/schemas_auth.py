"""Request structs of accounts, tokens and permissions (MLflow's auth API, and our tokens)."""

from __future__ import annotations

from typing import Optional

from .schemas import Request


class CreateUser(Request):
    username: Optional[str] = None
    password: Optional[str] = None
    is_admin: bool = False
    kind: str = "user"  # user | service (a service account: no password, tokens only)


class Username(Request):
    username: Optional[str] = None


class UpdatePassword(Request):
    username: Optional[str] = None
    password: Optional[str] = None


class UpdateAdmin(Request):
    username: Optional[str] = None
    is_admin: Optional[bool] = None


class Empty(Request):
    pass


class UserPermission(Request):
    username: Optional[str] = None
    resource_type: Optional[str] = None
    resource_id: Optional[str] = None
    permission: Optional[str] = None


class ResourcePermissions(Request):
    resource_type: Optional[str] = None
    resource_id: Optional[str] = None


class CreateToken(Request):
    username: Optional[str] = None  # default: the caller
    name: Optional[str] = None
    expires_days: Optional[float] = None


class TokenId(Request):
    username: Optional[str] = None
    token_id: Optional[int] = None


class ProtectAlias(Request):
    name: Optional[str] = None
    alias: Optional[str] = None
    protected: bool = True


class AuditPage(Request):
    max_results: int = 1000
    page_token: Optional[str] = None


class GroupName(Request):
    group: Optional[str] = None


class GroupMember(Request):
    group: Optional[str] = None
    username: Optional[str] = None


class GroupPermission(Request):
    group: Optional[str] = None
    resource_type: Optional[str] = None
    resource_id: Optional[str] = None
    permission: Optional[str] = None
