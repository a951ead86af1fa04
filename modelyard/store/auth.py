"""Accounts, tokens, grants and failed logins in SQL (see :mod:`.auth_schema`)."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select, update

from ..entities.registry import RegistryAuditEntry
from . import auth_schema as a
from .database import Database
from .registry_schema import registered_models, registry_audit
from .schema import experiments
from .workspaces import split_model_key

# Auth events go into the registry's audit trail under this name (no model can have it: ':' is refused).
AUDIT_NAME = "modelyard:auth"
_RANK = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
# Where the workspace of a resource with grants is kept: its table and the column of its grant's id.
WORKSPACE_OF = {"experiment": (experiments, "experiment_id"), "registered_model": (registered_models, "name")}


class UserRow(NamedTuple):
    id: int
    username: str
    password_hash: str | None
    is_admin: bool
    kind: str
    created_ms: int


class TokenRow(NamedTuple):
    id: int
    user_id: int
    name: str
    prefix: str
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None
    last_used_ms: int | None


_USER_COLS = (a.auth_users.c.id, a.auth_users.c.username, a.auth_users.c.password_hash, a.auth_users.c.is_admin,
              a.auth_users.c.kind, a.auth_users.c.created_ms)
_TOKEN_COLS = (a.auth_tokens.c.id, a.auth_tokens.c.user_id, a.auth_tokens.c.name, a.auth_tokens.c.prefix,
               a.auth_tokens.c.created_ms, a.auth_tokens.c.expires_ms, a.auth_tokens.c.revoked_ms,
               a.auth_tokens.c.last_used_ms)


def _user(row: Any) -> UserRow | None:
    return None if row is None else UserRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5])


def _audit(conn: Any, who: str | None, now: int, action: str, key: str, old: str | None = None,
           new: str | None = None) -> None:
    conn.execute(insert(registry_audit).values(timestamp=now, user_id=who, registered_model_id=None, name=AUDIT_NAME,
                                               version=None, action=action, key=key, old_value=old, new_value=new))


class AuthStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- the audit trail ------------------------------------------------------

    def audit(self, limit: int, offset: int, newest_first: bool = False) -> list[RegistryAuditEntry]:
        """Grants, revokes, token creations and failed logins, oldest first (or newest)."""
        c = registry_audit.c
        with self.db.read() as conn:
            rows = conn.execute(select(registry_audit).where(c.name == AUDIT_NAME)
                                .order_by(c.id.desc() if newest_first else c.id).limit(limit).offset(offset)).all()
        return [RegistryAuditEntry(row.id, row.timestamp, row.user_id, row.name, None, row.action, row.key,
                                   row.old_value, row.new_value) for row in rows]

    # ---- users ----------------------------------------------------------------

    def create_user(self, username: str, password_hash: str | None, is_admin: bool, kind: str, now: int) -> bool:
        """False if the name is taken."""
        with self.db.write() as conn:
            if conn.execute(select(a.auth_users.c.id).where(a.auth_users.c.username == username)).first():
                return False
            conn.execute(insert(a.auth_users).values(username=username, password_hash=password_hash,
                                                     is_admin=is_admin, kind=kind, created_ms=now))
        return True

    def user(self, username: str) -> UserRow | None:
        with self.db.read() as conn:
            return _user(conn.execute(select(*_USER_COLS).where(a.auth_users.c.username == username)).first())

    def user_by_id(self, user_id: int) -> UserRow | None:
        with self.db.read() as conn:
            return _user(conn.execute(select(*_USER_COLS).where(a.auth_users.c.id == user_id)).first())

    def users(self) -> list[UserRow]:
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(select(*_USER_COLS).order_by(a.auth_users.c.username))]  # type: ignore[misc]

    def count_users(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(a.auth_users)).scalar() or 0)

    def update_user(self, username: str, **values: Any) -> bool:
        with self.db.write() as conn:
            done = conn.execute(update(a.auth_users).where(a.auth_users.c.username == username).values(**values))
            return bool(done.rowcount)

    def delete_user(self, username: str) -> bool:
        with self.db.write() as conn:
            found = conn.execute(select(a.auth_users.c.id).where(a.auth_users.c.username == username)).scalar()
            if found is None:
                return False
            # Children first: SQLite enforces no foreign keys unless asked to.
            conn.execute(delete(a.auth_tokens).where(a.auth_tokens.c.user_id == found))
            conn.execute(delete(a.auth_grants).where(a.auth_grants.c.user_id == found))
            conn.execute(delete(a.auth_group_members).where(a.auth_group_members.c.user_id == found))
            conn.execute(delete(a.auth_users).where(a.auth_users.c.id == found))
            return True

    # ---- tokens ---------------------------------------------------------------

    def create_token(self, user_id: int, name: str, token_hash: str, prefix: str, now: int,
                     expires_ms: int | None, who: str | None = None) -> int:
        with self.db.write() as conn:
            done = conn.execute(insert(a.auth_tokens).values(
                user_id=user_id, name=name, token_hash=token_hash, prefix=prefix, created_ms=now,
                expires_ms=expires_ms))
            token_id = int(done.inserted_primary_key[0])  # type: ignore[index]
            owner = conn.execute(select(a.auth_users.c.username).where(a.auth_users.c.id == user_id)).scalar()
            _audit(conn, who, now, "create_token", str(owner),
                   new=f"token {token_id} '{name}' ({prefix}...)" + ("" if expires_ms is None else f" until {expires_ms}"))
            return token_id

    def token_owner(self, token_hash: str) -> tuple[TokenRow, UserRow] | None:
        q = (select(*_TOKEN_COLS, *_USER_COLS)
             .join(a.auth_users, a.auth_users.c.id == a.auth_tokens.c.user_id)
             .where(a.auth_tokens.c.token_hash == token_hash))
        with self.db.read() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        user = _user(row[len(_TOKEN_COLS):])
        assert user is not None
        return TokenRow(*row[: len(_TOKEN_COLS)]), user

    def tokens(self, user_id: int) -> list[TokenRow]:
        q = select(*_TOKEN_COLS).where(a.auth_tokens.c.user_id == user_id).order_by(a.auth_tokens.c.id)
        with self.db.read() as conn:
            return [TokenRow(*r) for r in conn.execute(q)]

    def revoke_token(self, user_id: int, token_id: int, now: int) -> bool:
        with self.db.write() as conn:
            done = conn.execute(update(a.auth_tokens)
                                .where(a.auth_tokens.c.id == token_id, a.auth_tokens.c.user_id == user_id,
                                       a.auth_tokens.c.revoked_ms.is_(None))
                                .values(revoked_ms=now))
            return bool(done.rowcount)

    # ---- grants ---------------------------------------------------------------

    def grant(self, user_id: int, resource_type: str, resource_id: str, level: str, who: str | None = None,
              now: int = 0) -> None:
        g = a.auth_grants
        with self.db.write() as conn:
            where = (g.c.user_id == user_id, g.c.resource_type == resource_type, g.c.resource_id == resource_id)
            old = conn.execute(select(g.c.level).where(*where)).scalar()
            if old is None:
                conn.execute(insert(g).values(user_id=user_id, resource_type=resource_type,
                                              resource_id=resource_id, level=level))
            else:
                conn.execute(update(g).where(*where).values(level=level))
            _audit(conn, who, now, "grant_permission", self._grant_key(conn, user_id, resource_type, resource_id),
                   old=old, new=level)

    def revoke(self, user_id: int, resource_type: str, resource_id: str, who: str | None = None,
               now: int = 0) -> bool:
        g = a.auth_grants
        with self.db.write() as conn:
            where = (g.c.user_id == user_id, g.c.resource_type == resource_type, g.c.resource_id == resource_id)
            old = conn.execute(select(g.c.level).where(*where)).scalar()
            if old is None:
                return False
            conn.execute(delete(g).where(*where))
            _audit(conn, who, now, "revoke_permission", self._grant_key(conn, user_id, resource_type, resource_id),
                   old=old)
            return True

    @staticmethod
    def _grant_key(conn: Any, user_id: int, resource_type: str, resource_id: str) -> str:
        username = conn.execute(select(a.auth_users.c.username).where(a.auth_users.c.id == user_id)).scalar()
        return f"{username} on {resource_type} {resource_id}"

    def level(self, user_id: int, resource_type: str, resource_id: str) -> str | None:
        """The user's own grant on the resource, else the highest of their groups' grants; for an experiment or
        a registered model without either, the same on its workspace; else None."""
        with self.db.read() as conn:
            found = self._level(conn, user_id, resource_type, resource_id)
            if found is None and resource_type in WORKSPACE_OF:
                table, column = WORKSPACE_OF[resource_type]
                key: Any = resource_id
                where = []
                if resource_type == "experiment":
                    key = int(resource_id) if resource_id.isdigit() and len(resource_id) < 19 else -1
                else:  # a registered model's key names its workspace
                    in_workspace, key = split_model_key(resource_id)
                    where.append(table.c.workspace == in_workspace)
                workspace = conn.execute(select(table.c.workspace).where(getattr(table.c, column) == key, *where)
                                         ).scalar()
                if workspace is not None:
                    found = self._level(conn, user_id, "workspace", str(workspace))
        return None if found is None else str(found)

    @staticmethod
    def _level(conn: Any, user_id: int, resource_type: str, resource_id: str) -> str | None:
        g, gg, m = a.auth_grants, a.auth_group_grants, a.auth_group_members
        found = conn.execute(select(g.c.level).where(
            g.c.user_id == user_id, g.c.resource_type == resource_type, g.c.resource_id == resource_id)).scalar()
        if found is None:
            levels = conn.execute(select(gg.c.level).join(m, m.c.group_id == gg.c.group_id).where(
                m.c.user_id == user_id, gg.c.resource_type == resource_type, gg.c.resource_id == resource_id))
            found = max((r[0] for r in levels), key=lambda level: _RANK.get(level, 0), default=None)
        return None if found is None else str(found)

    def all_grants(self) -> list[tuple[str, str, str, str, str]]:
        """Every grant: (``user`` or ``group``, its name, resource type, resource id, level), by resource."""
        g, u, gg, gr = a.auth_grants, a.auth_users, a.auth_group_grants, a.auth_groups
        with self.db.read() as conn:
            users = conn.execute(select(u.c.username, g.c.resource_type, g.c.resource_id, g.c.level)
                                 .join(u, u.c.id == g.c.user_id)).all()
            groups = conn.execute(select(gr.c.name, gg.c.resource_type, gg.c.resource_id, gg.c.level)
                                  .join(gr, gr.c.id == gg.c.group_id)).all()
        rows = [("user", *r) for r in users] + [("group", *r) for r in groups]
        return sorted(rows, key=lambda r: (r[2], r[3], r[0], r[1]))

    def grants_on(self, resource_type: str, resource_id: str) -> list[tuple[str, str, str]]:
        """Every grant on one resource: (``user`` or ``group``, its name, level), users first, by name."""
        g, u, gg, gr = a.auth_grants, a.auth_users, a.auth_group_grants, a.auth_groups
        users = (select(u.c.username, g.c.level).join(u, u.c.id == g.c.user_id)
                 .where(g.c.resource_type == resource_type, g.c.resource_id == resource_id).order_by(u.c.username))
        groups = (select(gr.c.name, gg.c.level).join(gr, gr.c.id == gg.c.group_id)
                  .where(gg.c.resource_type == resource_type, gg.c.resource_id == resource_id).order_by(gr.c.name))
        with self.db.read() as conn:
            return ([("user", str(r[0]), str(r[1])) for r in conn.execute(users)]
                    + [("group", str(r[0]), str(r[1])) for r in conn.execute(groups)])

    # ---- failed logins --------------------------------------------------------

    def failures(self, username: str, address: str) -> tuple[int, int]:
        f = a.auth_login_failures
        with self.db.read() as conn:
            row = conn.execute(select(f.c.failures, f.c.last_ms).where(f.c.username == username,
                                                                       f.c.address == address)).first()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def record_failure(self, username: str, address: str, now: int, how: str = "password") -> None:
        f = a.auth_login_failures
        with self.db.write() as conn:
            where = (f.c.username == username, f.c.address == address)
            if conn.execute(update(f).where(*where).values(failures=f.c.failures + 1, last_ms=now)).rowcount == 0:
                conn.execute(insert(f).values(username=username, address=address, failures=1, last_ms=now))
            _audit(conn, None, now, "login_failure", username, new=f"{how} from {address or 'unknown address'}")

    def record_refusal(self, key: str, detail: str, now: int) -> None:
        """A bearer token or JWT refused: into the audit trail (no back-off: a token cannot be guessed)."""
        with self.db.write() as conn:
            _audit(conn, None, now, "login_failure", key, new=detail)

    def clear_failures(self, username: str, address: str) -> None:
        f = a.auth_login_failures
        with self.db.write() as conn:
            conn.execute(delete(f).where(f.c.username == username, f.c.address == address))

    # ---- groups ---------------------------------------------------------------

    @staticmethod
    def _group_id(conn: Any, name: str) -> int | None:
        found = conn.execute(select(a.auth_groups.c.id).where(a.auth_groups.c.name == name)).scalar()
        return None if found is None else int(found)

    def create_group(self, name: str, now: int) -> bool:
        """False if the name is taken."""
        with self.db.write() as conn:
            if self._group_id(conn, name) is not None:
                return False
            conn.execute(insert(a.auth_groups).values(name=name, created_ms=now))
        return True

    def delete_group(self, name: str) -> bool:
        with self.db.write() as conn:
            found = self._group_id(conn, name)
            if found is None:
                return False
            conn.execute(delete(a.auth_group_grants).where(a.auth_group_grants.c.group_id == found))
            conn.execute(delete(a.auth_group_members).where(a.auth_group_members.c.group_id == found))
            conn.execute(delete(a.auth_groups).where(a.auth_groups.c.id == found))
        return True

    def groups(self) -> list[tuple[str, list[str]]]:
        """Every group's name and its members' names."""
        gr, m, u = a.auth_groups, a.auth_group_members, a.auth_users
        with self.db.read() as conn:
            names = [r[0] for r in conn.execute(select(gr.c.name).order_by(gr.c.name))]
            members: dict[str, list[str]] = {}
            q = (select(gr.c.name, u.c.username).join(m, m.c.group_id == gr.c.id).join(u, u.c.id == m.c.user_id)
                 .order_by(u.c.username))
            for group, username in conn.execute(q):
                members.setdefault(group, []).append(username)
        return [(name, members.get(name, [])) for name in names]

    def set_member(self, name: str, user_id: int, member: bool) -> bool | None:
        """Add or remove a member: None if no such group, else whether anything changed."""
        m = a.auth_group_members
        with self.db.write() as conn:
            group = self._group_id(conn, name)
            if group is None:
                return None
            where = (m.c.group_id == group, m.c.user_id == user_id)
            present = conn.execute(select(m.c.user_id).where(*where)).first() is not None
            if member and not present:
                conn.execute(insert(m).values(group_id=group, user_id=user_id))
            elif not member and present:
                conn.execute(delete(m).where(*where))
            return present != member

    def group_grant(self, name: str, resource_type: str, resource_id: str, level: str | None, who: str | None,
                    now: int) -> bool | None:
        """Grant (or with ``level`` None revoke) a group's level: None if no such group, else whether it changed."""
        gg = a.auth_group_grants
        with self.db.write() as conn:
            group = self._group_id(conn, name)
            if group is None:
                return None
            where = (gg.c.group_id == group, gg.c.resource_type == resource_type, gg.c.resource_id == resource_id)
            old = conn.execute(select(gg.c.level).where(*where)).scalar()
            if level is None:
                if old is None:
                    return False
                conn.execute(delete(gg).where(*where))
            elif old is None:
                conn.execute(insert(gg).values(group_id=group, resource_type=resource_type, resource_id=resource_id,
                                               level=level))
            else:
                conn.execute(update(gg).where(*where).values(level=level))
            _audit(conn, who, now, "grant_group_permission" if level else "revoke_group_permission",
                   f"group {name} on {resource_type} {resource_id}", old=old, new=level)
            return True

    def sync_groups(self, user_id: int, names: list[str]) -> bool:
        """Make the user a member of exactly the existing groups among ``names``; True if that changed anything."""
        gr, m = a.auth_groups, a.auth_group_members
        with self.db.read() as conn:
            wanted = {int(r[0]) for r in conn.execute(select(gr.c.id).where(gr.c.name.in_(names)))} if names else set()
            held = {int(r[0]) for r in conn.execute(select(m.c.group_id).where(m.c.user_id == user_id))}
        if wanted == held:
            return False
        with self.db.write() as conn:
            if held - wanted:
                conn.execute(delete(m).where(m.c.user_id == user_id, m.c.group_id.in_(held - wanted)))
            for group in wanted - held:
                conn.execute(insert(m).values(group_id=group, user_id=user_id))
        return True
