"""Accounts, tokens and permissions: MLflow's auth API and our tokens (see ``api/auth.py``)."""

from __future__ import annotations

from typing import Any

from ...api import schemas_auth as s
from ...errors import InvalidParameterValue
from .. import TrackingService
from ..auth import level_name, resource, token_json, user_json
from ..caller import caller
from . import page_answer


def _username(value: str | None) -> str:
    if not value:
        raise InvalidParameterValue("Missing value for required parameter 'username'.")
    return value


def create_user(svc: TrackingService, req: s.CreateUser) -> dict[str, Any]:
    user = svc.auth.create_user(_username(req.username), req.password, req.is_admin, req.kind)
    return {"user": user_json(user)}


def get_user(svc: TrackingService, req: s.Username) -> dict[str, Any]:
    return {"user": user_json(svc.auth.get_user(svc.auth.require_self_or_admin(_username(req.username))))}


def current_user(svc: TrackingService, req: s.Empty) -> dict[str, Any]:
    who = caller.get()
    if who is None:
        raise InvalidParameterValue("No one is signed in: this server or store does not authenticate callers.")
    return {"user": user_json(svc.auth.get_user(who.username))}


def list_users(svc: TrackingService, req: s.Empty) -> dict[str, Any]:
    return {"users": [user_json(u) for u in svc.auth.list_users()]}


def update_password(svc: TrackingService, req: s.UpdatePassword) -> None:
    svc.auth.update_password(svc.auth.require_self_or_admin(_username(req.username)), req.password or "")


def update_admin(svc: TrackingService, req: s.UpdateAdmin) -> None:
    if req.is_admin is None:
        raise InvalidParameterValue("Missing value for required parameter 'is_admin'.")
    svc.auth.update_admin(_username(req.username), req.is_admin)


def delete_user(svc: TrackingService, req: s.Username) -> None:
    who = caller.get()
    if who is not None and who.username == req.username:
        raise InvalidParameterValue("You cannot delete your own account: ask another admin.")
    svc.auth.delete_user(_username(req.username))


def grant(svc: TrackingService, req: s.UserPermission) -> None:
    kind, rid = svc.auth.require_manager(req.resource_type, req.resource_id)
    svc.auth.grant(_username(req.username), kind, rid, level_name(req.permission))


def revoke(svc: TrackingService, req: s.UserPermission) -> None:
    kind, rid = svc.auth.require_manager(req.resource_type, req.resource_id)
    svc.auth.revoke(_username(req.username), kind, rid)


def get_permission(svc: TrackingService, req: s.UserPermission) -> dict[str, Any]:
    username = _username(req.username)
    kind, rid = resource(req.resource_type, req.resource_id)
    who = caller.get()
    if who is not None and who.username != username:
        svc.auth.require(who, "MANAGE", kind, rid)  # a resource's manager may see who holds what on it
    user = svc.auth.get_user(username)
    level = svc.auth.level(svc.auth.principal(user), kind, rid)
    # allowed: MLflow's can_use (the level lets one use the resource beyond reading it: EDIT or MANAGE here).
    return {"permission": level, "allowed": level in ("EDIT", "MANAGE"), "username": username,
            "resource_type": kind, "resource_id": rid}


def list_resource_permissions(svc: TrackingService, req: s.ResourcePermissions) -> dict[str, Any]:
    """Who holds what on a resource: its managers (and admins) see every grant on it, their own included."""
    kind, rid = svc.auth.require_manager(req.resource_type, req.resource_id)
    return {"resource_type": kind, "resource_id": rid, "permissions": [
        {"kind": holder_kind, "name": name, "permission": level} for holder_kind, name, level in svc.auth.grants_on(kind, rid)]}


def create_token(svc: TrackingService, req: s.CreateToken) -> dict[str, Any]:
    username = svc.auth.require_self_or_admin(req.username)
    secret, row = svc.auth.create_token(username, req.name or "", req.expires_days)
    return {"token": secret, "info": token_json(row)}


def list_tokens(svc: TrackingService, req: s.Username) -> dict[str, Any]:
    username = svc.auth.require_self_or_admin(req.username)
    return {"tokens": [token_json(t) for t in svc.auth.list_tokens(username)]}


def revoke_token(svc: TrackingService, req: s.TokenId) -> None:
    if req.token_id is None:
        raise InvalidParameterValue("Missing value for required parameter 'token_id'.")
    svc.auth.revoke_token(svc.auth.require_self_or_admin(req.username), req.token_id)


def set_protected_alias(svc: TrackingService, req: s.ProtectAlias) -> dict[str, Any]:
    if not req.name:
        raise InvalidParameterValue("Missing value for required parameter 'name'.")
    if not req.alias:
        raise InvalidParameterValue("Missing value for required parameter 'alias'.")
    return {"name": req.name, "protected_aliases": svc.registry.set_protected_alias(req.name, req.alias, req.protected)}


def audit(svc: TrackingService, req: s.AuditPage) -> dict[str, Any]:
    page = svc.auth.audit(req.max_results, req.page_token)
    return page_answer("entries", page)


def _group(value: str | None) -> str:
    if not value:
        raise InvalidParameterValue("Missing value for required parameter 'group'.")
    return value


def create_group(svc: TrackingService, req: s.GroupName) -> None:
    svc.auth.create_group(_group(req.group))


def delete_group(svc: TrackingService, req: s.GroupName) -> None:
    svc.auth.delete_group(_group(req.group))


def list_groups(svc: TrackingService, req: s.Empty) -> dict[str, Any]:
    return {"groups": svc.auth.list_groups()}


def add_member(svc: TrackingService, req: s.GroupMember) -> None:
    svc.auth.set_member(_group(req.group), _username(req.username), True)


def remove_member(svc: TrackingService, req: s.GroupMember) -> None:
    svc.auth.set_member(_group(req.group), _username(req.username), False)


def grant_group(svc: TrackingService, req: s.GroupPermission) -> None:
    group = _group(req.group)
    kind, rid = svc.auth.require_manager(req.resource_type, req.resource_id)
    svc.auth.grant_group(group, kind, rid, level_name(req.permission))


def revoke_group(svc: TrackingService, req: s.GroupPermission) -> None:
    group = _group(req.group)
    kind, rid = svc.auth.require_manager(req.resource_type, req.resource_id)
    svc.auth.grant_group(group, kind, rid, None)
