"""Accounts, credentials and permissions: who is calling, and may they.

Passwords are hashed with argon2 (``argon2-cffi``) and never logged or returned. Access tokens are
256 random bits shown once; the store keeps their SHA-256. A verified password or token, and each
grant read, is trusted for ``auth_cache_seconds`` so a request does not hash a password, and a
revoke reaches every server process within that time. Verified credentials are remembered by the
raw header that carried them (:attr:`AuthService.verified`, :attr:`AuthService.sessions`) and grants
by (user, resource) (:attr:`AuthService.ranks`): on a hit a request costs a dict lookup or two.

Levels: READ < EDIT < MANAGE on an experiment (its runs, metrics, artifacts and logged models
inherit it) or a registered model (its versions and aliases inherit it). Admins hold MANAGE on
everything; whoever creates an experiment or a registered model gets MANAGE on it; a user with no
grant on a resource has ``auth_default_permission``. Failed logins back off per (user, client
address), recorded in the store so the back-off holds across processes; nobody can lock a user
out, only slow guesses down.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from ..entities import PagedList
from ..errors import (
    InvalidParameterValue,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    TooManyAttempts,
    Unauthenticated,
)
from ..settings import Settings
from ..store.auth import AuthStore, TokenRow, UserRow
from ..store.workspaces import model_key
from .caller import Principal, caller
from .jwt import JwtVerifier, looks_like_jwt
from .registry import MAX_AUDIT_PAGE
from .registry import _who as _registry_who
from .search import decode_page_token, encode_page_token

RANK = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
RESOURCE_TYPES = ("experiment", "registered_model", "workspace")
TOKEN_PREFIX = "my_"
FREE_FAILURES = 5  # failed logins before the back-off starts
MAX_BACKOFF_SECONDS = 60.0


def _who() -> str | None:
    """Who is acting, for the audit trail: the signed-in caller, else the registry's acting user."""
    who = caller.get()
    return who.username if who is not None else _registry_who()


def now_ms() -> int:
    return int(time.time() * 1000)


def level_name(value: str | None, field: str = "permission") -> str:
    name = (value or "").upper()
    if name not in RANK:
        raise InvalidParameterValue(
            f"Invalid {field} '{value}': use one of READ, EDIT, MANAGE, NO_PERMISSIONS.")
    return name


def resource(resource_type: str | None, resource_id: str | None) -> tuple[str, str]:
    """A grant's resource, checked: its type and id (a registered model's: its key, see :func:`grant_key`)."""
    if resource_type not in RESOURCE_TYPES:
        raise InvalidParameterValue(
            f"Invalid resource_type '{resource_type}': use experiment, registered_model or workspace.")
    if not resource_id:
        raise InvalidParameterValue("Missing value for required parameter 'resource_id'.")
    return resource_type, grant_key(resource_type, str(resource_id))


def grant_key(resource_type: str, resource_id: str) -> str:
    """How grants name a resource: a registered model by its name and the request's workspace (names repeat
    across workspaces), the rest by their id."""
    return model_key(resource_id) if resource_type == "registered_model" else resource_id


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:  # pragma: no cover - the auth extra is missing
        raise RuntimeError("Authentication needs argon2-cffi: pip install 'modelyard[auth]'.") from exc
    return PasswordHasher()


def fingerprint(password_hash: str | None) -> str:
    """A short mark of an account's password hash: a session made before the password changed stops working."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def user_json(user: UserRow) -> dict[str, Any]:
    """A user as MLflow's auth API answers it (the hash redacted, as MLflow does)."""
    return {"id": user.id, "username": user.username, "password_hash": "REDACTED", "is_admin": user.is_admin,
            "kind": user.kind, "experiment_permissions": [], "registered_model_permissions": []}


def token_json(token: TokenRow) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "prefix": token.prefix, "created_ms": token.created_ms,
            "expires_ms": token.expires_ms, "revoked_ms": token.revoked_ms}


class _Cache:
    """Values kept for a few seconds: a dict with a deadline per key, bounded in size."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds, self.size = seconds, size
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def peek(self, key: Any) -> Any:
        found = self._items.get(key)
        return found[1] if found is not None and found[0] > time.monotonic() else None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.seconds, value)

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        found = self._items.get(key)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        value = make()
        self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class AuthService:
    def __init__(self, store: AuthStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.default_level = level_name(settings.auth_default_permission, "MODELYARD_AUTH_DEFAULT_PERMISSION")
        self._cache = _Cache(settings.auth_cache_seconds)
        # The verified-credential caches (Authorization headers; Cookie headers holding a valid
        # session cookie) and the grants read (:meth:`level`): (user id, resource type, grant key) → (deadline,
        # effective level, its rank). Plain dicts, read without a lock (the server's auth middleware and hot path
        # look them up themselves); cleared, never replaced.
        self.verified: dict[bytes, tuple[float, Principal]] = {}
        self.sessions: dict[bytes, tuple[float, Principal]] = {}  # a Cookie header → its session's account
        self.ranks: dict[tuple[int, str, str], tuple[float, str, int]] = {}
        self._lock = threading.Lock()
        self._checked_hashes: dict[bytes, str] = {}  # keyed digest of credentials → the hash they were verified against
        self._memo_key = secrets.token_bytes(32)
        self._jwt = JwtVerifier(settings) if settings.auth_jwt_jwks else None

    CACHE_SIZE = 10_000  # verified headers kept at most (cleared when full)

    def _forget(self) -> None:
        """Drop every cached credential and grant of this process (after a change of accounts or grants)."""
        with self._lock:
            self.verified.clear()
            self.sessions.clear()
            self.ranks.clear()
        self._cache.clear()

    def principal(self, user: UserRow) -> Principal:
        return Principal(user.id, user.username, user.is_admin, RANK[self.default_level] >= RANK["READ"])

    # ---- accounts -------------------------------------------------------------

    def create_user(self, username: str, password: str | None, is_admin: bool = False,
                    kind: str = "user") -> UserRow:
        if not username or len(username) > 255 or ":" in username:
            raise InvalidParameterValue(
                "Invalid username: give 1 to 255 characters, without ':' (HTTP Basic splits on it).")
        if kind not in ("user", "service"):
            raise InvalidParameterValue(f"Invalid kind '{kind}': use user or service.")
        if kind == "user" and not password:
            raise InvalidParameterValue("Missing value for required parameter 'password': a user needs one.")
        hashed = _hasher().hash(password) if password else None
        if not self.store.create_user(username, hashed, is_admin, kind, now_ms()):
            raise ResourceAlreadyExists(f"User '{username}' already exists.")
        return self.get_user(username)

    def get_user(self, username: str) -> UserRow:
        user = self.store.user(username or "")
        if user is None:
            raise ResourceDoesNotExist(f"User with username={username} not found")
        return user

    def list_users(self) -> list[UserRow]:
        return self.store.users()

    def update_password(self, username: str, password: str) -> None:
        if not password:
            raise InvalidParameterValue("Missing value for required parameter 'password'.")
        self.get_user(username)
        self.store.update_user(username, password_hash=_hasher().hash(password))
        self._forget()

    def update_admin(self, username: str, is_admin: bool) -> None:
        self.get_user(username)
        self.store.update_user(username, is_admin=bool(is_admin))
        self._forget()

    def delete_user(self, username: str) -> None:
        if not self.store.delete_user(username or ""):
            raise ResourceDoesNotExist(f"User with username={username} not found")
        self._forget()

    def ensure_admin(self) -> None:
        """The admin account of the settings, created on first start if absent."""
        name, password = self.settings.auth_admin_username, self.settings.auth_admin_password
        if name and self.store.user(name) is None:
            if not password:
                raise InvalidParameterValue(
                    "MODELYARD_AUTH_ADMIN_USERNAME is set but MODELYARD_AUTH_ADMIN_PASSWORD is empty: set both.")
            try:
                self.create_user(name, password, is_admin=True)
            except ResourceAlreadyExists:  # another server process made it first
                pass

    # ---- authentication -------------------------------------------------------

    # The verified-credential caches (:attr:`verified`, :attr:`sessions`): the raw ``Authorization`` header (or the
    # ``Cookie`` header holding a session cookie) of a request → the account it verified as, until a deadline at
    # most ``auth_cache_seconds`` after it was checked against the store. The server's auth middleware looks them
    # up itself: a hit is one dict lookup, no base64, no hashing. The keys hold credentials: never logged or shown.

    def _remember(self, raw: bytes, principal: Principal, checked: float, cookie: bool = False,
                  expires: float | None = None) -> None:
        """Trust ``raw`` as ``principal`` until ``auth_cache_seconds`` after ``checked`` (monotonic), never past
        ``expires`` (Unix seconds: a JWT's or a session's end)."""
        seconds = self.settings.auth_cache_seconds
        if expires is not None:
            seconds = min(seconds, expires - time.time())
        if seconds <= 0:
            return
        cache = self.sessions if cookie else self.verified
        with self._lock:
            if len(cache) >= self.CACHE_SIZE:
                cache.clear()
            cache[raw] = (checked + seconds, principal)

    def authenticate_header(self, raw: bytes, address: str = "") -> Principal:
        """The account of an ``Authorization`` header value: HTTP Basic or a bearer token (an access token, or a
        JWT when JWT sign-in is set up). Any malformed header is ``UNAUTHENTICATED``. Reads the store."""
        checked = time.monotonic()
        scheme, _, credentials = raw.decode("latin-1").strip().partition(" ")
        credentials = credentials.strip()
        scheme = scheme.lower()
        if scheme == "bearer" and credentials:
            if self._jwt is not None and looks_like_jwt(credentials):
                principal, expires = self._authenticate_jwt(credentials, address)
                self._remember(raw, principal, checked, expires=expires)
                return principal
            principal = self.authenticate_token(credentials, address)
        elif scheme == "basic" and credentials:
            try:
                username, sep, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise Unauthenticated("Malformed Basic credentials: send base64 of 'username:password'.") from None
            if not sep or not username:
                raise Unauthenticated("Malformed Basic credentials: send base64 of 'username:password'.")
            principal = self.authenticate_basic(username, password, address)
        else:
            raise Unauthenticated(
                "Unsupported Authorization header: use Basic (username and password) or Bearer (a token).")
        self._remember(raw, principal, checked)
        return principal

    def authenticate_cookie(self, raw: bytes, username: str, mark: str, expires: float) -> Principal:
        """The account of a ``Cookie`` header whose session cookie (already checked for its signature and end,
        ``expires``) names ``username`` with password fingerprint ``mark``. Reads the store."""
        checked = time.monotonic()
        principal = self.authenticate_session(username, mark)
        self._remember(raw, principal, checked, cookie=True, expires=expires)
        return principal

    def authenticate_basic(self, username: str, password: str, address: str) -> Principal:
        """The account of a username and password (the login page, HTTP Basic), once the back-off of failed
        logins from ``address`` allows a try. Reads the store; argon2 only for credentials not verified before
        against the account's current hash."""
        failures, last = self.store.failures(username, address)
        if failures >= FREE_FAILURES:
            wait = min(MAX_BACKOFF_SECONDS, 2.0 ** (failures - FREE_FAILURES))
            left = last / 1000 + wait - time.time()
            if left > 0:
                err = TooManyAttempts(
                    f"Too many failed logins for this user from this address: try again in {int(left) + 1} s.")
                err.retry_after = int(left) + 1  # type: ignore[attr-defined]
                raise err
        principal = self._check_password(username, password, self._memo(username, password))
        if principal is None:
            self.store.record_failure(username, address, now_ms())
            raise Unauthenticated("Incorrect username or password.")
        if failures:
            self.store.clear_failures(username, address)
        return principal

    def _memo(self, username: str, password: str) -> bytes:
        """A keyed digest of the credentials (the key is this process's own: never a bare hash of a password)."""
        return hmac.new(self._memo_key, f"{username}\0{password}".encode(), hashlib.sha256).digest()

    def _check_password(self, username: str, password: str, memo: bytes) -> Principal | None:
        """The account, if ``password`` is its password. Credentials verified once against the account's current
        hash are not hashed again when the cache expires: one read of the account (its hash unchanged) is enough."""
        user = self.store.user(username)
        if user is None or not user.password_hash:
            _hasher().hash(password)  # the same time as a real check: names are not revealed by timing
            return None
        if self._checked_hashes.get(memo) == user.password_hash:
            return self.principal(user)
        from argon2.exceptions import VerificationError

        try:
            _hasher().verify(user.password_hash, password)
        except VerificationError:
            return None
        if len(self._checked_hashes) >= 10_000:
            self._checked_hashes.clear()
        self._checked_hashes[memo] = user.password_hash
        return self.principal(user)

    def authenticate_token(self, token: str, address: str = "") -> Principal:
        """The owner of an access token (or of a JWT, when JWT sign-in is set up). Reads the store.

        A refused token goes into the audit trail, once per token per ``auth_cache_seconds``.
        """
        if self._jwt is not None and looks_like_jwt(token):
            return self._authenticate_jwt(token, address)[0]
        principal = self._check_token(token)
        if principal is not None:
            return principal
        key = ("refused", _digest(token))
        if self._cache.peek(key) is None:
            self._cache.put(key, True)
            self.store.record_refusal(f"token {token[:len(TOKEN_PREFIX) + 7]}...", "token from "
                                      + (address or "unknown address") + ": invalid, expired or revoked", now_ms())
        raise Unauthenticated("Invalid, expired or revoked token.")

    def _authenticate_jwt(self, token: str, address: str = "") -> tuple[Principal, float]:
        """The account a JWT of the identity provider names (made on first sign-in; see :mod:`.jwt`), and the
        JWT's expiry (Unix seconds).

        A refused JWT goes into the audit trail with the reason, once per token per ``auth_cache_seconds``.
        """
        key = ("jwt", _digest(token))
        known = self._cache.peek(key)
        if isinstance(known, Unauthenticated):
            raise Unauthenticated(known.message)
        assert self._jwt is not None
        try:
            username, groups, expires = self._jwt.verify(token)
        except Unauthenticated as exc:
            self._cache.put(key, exc)
            self.store.record_refusal("jwt", f"JWT from {address or 'unknown address'}: {exc.message}", now_ms())
            raise
        user = self.store.user(username)
        if user is None:
            self.store.create_user(username, None, False, "sso", now_ms())  # False if another process made it
            user = self.get_user(username)
        if self.settings.auth_jwt_groups_claim and user.kind == "sso" and self.store.sync_groups(user.id, groups):
            self._forget()  # the provider's groups are the member's groups (those that exist here)
        return self.principal(user), float(expires)

    def _check_token(self, token: str) -> Principal | None:
        found = self.store.token_owner(_digest(token))
        if found is None:
            return None
        row, user = found
        if row.revoked_ms is not None or (row.expires_ms is not None and row.expires_ms <= now_ms()):
            return None
        return self.principal(user)

    def authenticate_session(self, username: str, mark: str) -> Principal:
        """The account of a signed session cookie, while it exists with the password it was signed in with.
        Reads the store."""
        user = self.store.user(username)
        if user is None or fingerprint(user.password_hash) != mark:
            raise Unauthenticated("Your session has ended: sign in again.")
        return self.principal(user)

    # ---- the audit trail -------------------------------------------------------

    def audit(self, max_results: int = 1000, page_token: str | None = None) -> PagedList:
        """Grants, revokes, token creations and failed logins (the registry's audit trail), oldest first."""
        if not 1 <= max_results <= MAX_AUDIT_PAGE:
            raise InvalidParameterValue(f"Invalid max_results {max_results}: use 1 to {MAX_AUDIT_PAGE}.")
        offset = decode_page_token(page_token)
        items = self.store.audit(max_results + 1, offset)
        token = encode_page_token(offset + max_results) if len(items) > max_results else None
        return PagedList(items[:max_results], token)

    # ---- tokens ---------------------------------------------------------------

    def create_token(self, username: str, name: str, expires_days: float | None = None) -> tuple[str, TokenRow]:
        """A new token of ``username``: its secret (shown this once) and its record."""
        user = self.get_user(username)
        if not name or len(name) > 255:
            raise InvalidParameterValue("Invalid token name: give 1 to 255 characters.")
        if expires_days is not None and expires_days <= 0:
            raise InvalidParameterValue("Invalid expires_days: give a positive number of days, or none.")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = now_ms()
        expires = None if expires_days is None else now + int(expires_days * 86_400_000)
        token_id = self.store.create_token(user.id, name, _digest(secret), secret[:10], now, expires, _who())
        row = next(t for t in self.store.tokens(user.id) if t.id == token_id)
        return secret, row

    def list_tokens(self, username: str) -> list[TokenRow]:
        return self.store.tokens(self.get_user(username).id)

    def revoke_token(self, username: str, token_id: int) -> None:
        if not self.store.revoke_token(self.get_user(username).id, token_id, now_ms()):
            raise ResourceDoesNotExist(f"No active token {token_id} of user {username}.")
        self._forget()

    # ---- permissions ----------------------------------------------------------

    def grant(self, username: str, resource_type: str, resource_id: str, level: str) -> None:
        resource_type, resource_id = resource(resource_type, resource_id)
        self.store.grant(self.get_user(username).id, resource_type, str(resource_id), level_name(level), _who(),
                         now_ms())
        self._forget()

    def revoke(self, username: str, resource_type: str, resource_id: str) -> None:
        resource_id = grant_key(resource_type, str(resource_id))
        if not self.store.revoke(self.get_user(username).id, resource_type, resource_id, _who(), now_ms()):
            raise ResourceDoesNotExist(
                f"User {username} has no permission on {resource_type} {resource_id} to revoke.")
        self._forget()

    def grants_on(self, resource_type: str, resource_id: str) -> list[tuple[str, str, str]]:
        """Every grant on one resource: (``user`` or ``group``, its name, level), users first, by name."""
        return self.store.grants_on(resource_type, grant_key(resource_type, resource_id))

    # ---- groups ---------------------------------------------------------------

    def create_group(self, name: str) -> None:
        if not name or len(name) > 255:
            raise InvalidParameterValue("Invalid group name: give 1 to 255 characters.")
        if not self.store.create_group(name, now_ms()):
            raise ResourceAlreadyExists(f"Group '{name}' already exists.")

    def delete_group(self, name: str) -> None:
        if not self.store.delete_group(name or ""):
            raise ResourceDoesNotExist(f"Group '{name}' not found.")
        self._forget()

    def list_groups(self) -> list[dict[str, Any]]:
        return [{"name": name, "members": members} for name, members in self.store.groups()]

    def set_member(self, group: str, username: str, member: bool = True) -> None:
        if self.store.set_member(group or "", self.get_user(username).id, member) is None:
            raise ResourceDoesNotExist(f"Group '{group}' not found.")
        self._forget()

    def grant_group(self, group: str, resource_type: str, resource_id: str, level: str | None) -> None:
        """Give group ``group`` a level on a resource (``level`` None: take it away)."""
        resource_type, resource_id = resource(resource_type, resource_id)
        done = self.store.group_grant(group or "", resource_type, resource_id,
                                      None if level is None else level_name(level), _who(), now_ms())
        if done is None:
            raise ResourceDoesNotExist(f"Group '{group}' not found.")
        if done is False:
            raise ResourceDoesNotExist(f"Group {group} has no permission on {resource_type} {resource_id} to revoke.")
        self._forget()

    def level(self, principal: Principal, resource_type: str, resource_id: str) -> str:
        """The effective level of ``principal`` on a resource (its grant read through :attr:`ranks`)."""
        if principal.is_admin:
            return "MANAGE"
        key = (principal.user_id, resource_type, grant_key(resource_type, resource_id))
        found = self.ranks.get(key)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        checked = time.monotonic()
        level = self.store.level(principal.user_id, resource_type, key[2]) or self.default_level
        with self._lock:
            if len(self.ranks) >= self.CACHE_SIZE:
                self.ranks.clear()
            self.ranks[key] = (checked + self.settings.auth_cache_seconds, level, RANK[level])
        return level

    def require(self, principal: Principal, needed: str, resource_type: str, resource_id: str) -> None:
        """Raise PERMISSION_DENIED unless ``principal`` holds ``needed`` on the resource."""
        if RANK[self.level(principal, resource_type, resource_id)] < RANK[needed]:
            raise PermissionDenied("Permission denied.")

    def require_self_or_admin(self, username: str | None) -> str:
        """``username`` (default: the caller), if the caller is that user or an admin."""
        who = caller.get()
        if who is None:
            if not username:
                raise InvalidParameterValue("Missing value for required parameter 'username'.")
            return username
        if username and username != who.username and not who.is_admin:
            raise PermissionDenied("Permission denied.")
        return username or who.username

    def require_manager(self, resource_type: str | None, resource_id: str | None) -> tuple[str, str]:
        """The resource of a grant, if the caller manages it."""
        resource_type, resource_id = resource(resource_type, resource_id)
        who = caller.get()
        if who is not None:
            self.require(who, "MANAGE", resource_type, resource_id)
        return resource_type, resource_id

    def creator(self, principal: Principal, resource_type: str, resource_id: str) -> None:
        """Whoever creates an experiment or registered model manages it."""
        if not principal.is_admin:
            self.store.grant(principal.user_id, resource_type, grant_key(resource_type, str(resource_id)), "MANAGE",
                             principal.username, now_ms())
            self._forget()
