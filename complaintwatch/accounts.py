"""Accounts in the store's app state (indexer/store/appstate.py): users with
roles, argon2 password hashes, personal API tokens (only their SHA-256 kept),
who owns which alert, and failed sign-ins for a light lockout.

No Flask here: the CLI (`complaintwatch user ...`), the web app (web/auth.py)
and alert delivery share it.

State kinds:
    user         str(id)         -> User
    user_email   email (lower)   -> {"user_id"}: one account per address, claimed atomically
    api_token    sha256 hex      -> ApiToken
    alert_owner  str(alert id)   -> {"user_id"}
    login_fail   "acct:<email>" / "ip:<addr>" -> {"times": [...]}

While no user exists access control is off (a fresh install, the demo): the
first `complaintwatch user add` turns it on.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel

from indexer.store.appstate import AppState, StateRepo

Role = Literal["admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "member", "viewer")
WRITERS = ("admin", "member")  # viewers read only
TOKEN_PREFIX = "cw_"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; this keeps a request from making it hash megabytes
LOCKOUT_FAILURES = 10  # failed sign-ins per account or per address ...
LOCKOUT_WINDOW = timedelta(minutes=15)  # ... in this window lock further tries out until the oldest ages off

_hasher = PasswordHasher()
# verified when the address is unknown, so that an unknown address takes as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A refused account operation; the message says why."""


class User(BaseModel):
    id: int
    email: str
    role: Role
    password_hash: str
    created_at: datetime


class ApiToken(BaseModel):
    user_id: int
    created_at: datetime
    last_used_at: datetime | None = None


class Owner(BaseModel):
    user_id: int


def _now() -> datetime:
    return datetime.now(timezone.utc)


def normalise_email(raw: str) -> str:
    """The address as stored (lower case); AccountError when it is not one address."""
    raw = (raw or "").strip()
    try:
        addr = Address(addr_spec=raw)
    except (ValueError, HeaderParseError, IndexError) as exc:
        raise AccountError(f"not an e-mail address: {raw!r}") from exc
    if not addr.username or "." not in addr.domain or addr.addr_spec != raw:
        raise AccountError(f"not an e-mail address: {raw!r}")
    return raw.lower()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password may have at most {MAX_PASSWORD} characters")


def token_digest(token: str) -> str:
    # tokens are 256 random bits: a fast hash is enough (no dictionary to guess from)
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users, tokens and alert owners of one store."""

    def __init__(self, state: AppState):
        self.state = state
        self.users = StateRepo(state, "user", User)
        self.tokens = StateRepo(state, "api_token", ApiToken)
        self.owners = StateRepo(state, "alert_owner", Owner)

    # -- users ---------------------------------------------------------------

    def any_user(self) -> bool:
        return bool(self.state.state_list("user_email"))

    def list(self) -> list[User]:
        return sorted(self.users, key=lambda u: u.id)

    def get(self, user_id: int | str) -> User | None:
        try:
            return self.users.get(str(int(user_id)))
        except (TypeError, ValueError):
            return None

    def by_email(self, email: str) -> User | None:
        try:
            key = normalise_email(email)
        except AccountError:
            return None
        ref = self.state.state_get("user_email", key)
        return self.get(ref["user_id"]) if ref else None

    def add(self, email: str, password: str, role: str = "member") -> User:
        email = normalise_email(email)
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        check_password(password)
        user_id = self.users.next_id()
        # the address first, atomically: two concurrent adds of one address make one account
        if not self.state.state_create("user_email", email, {"user_id": user_id}):
            raise AccountError(f"there is already an account for {email}")
        user = User(id=user_id, email=email, role=role, password_hash=_hasher.hash(password), created_at=_now())
        self.users.put(str(user_id), user)
        return user

    def set_password(self, user: User, password: str) -> User:
        check_password(password)
        user = user.model_copy(update={"password_hash": _hasher.hash(password)})
        self.users.put(str(user.id), user)
        return user

    def remove(self, email: str, force: bool = False) -> User:
        """Delete the account, its tokens and its delivery settings. Its alerts
        stay, unowned: visible and editable by admins only."""
        user = self.by_email(email)
        if user is None:
            raise AccountError(f"no account for {email}")
        admins = [u for u in self.list() if u.role == "admin"]
        if not force and user.role == "admin" and len(admins) == 1:
            raise AccountError(
                "that is the last admin: add another admin first (or --force; with no user left, access control is off)"
            )
        for digest, tok in self.tokens.items():
            if tok.user_id == user.id:
                self.tokens.delete(digest)
        for key, owner in self.owners.items():
            if owner.user_id == user.id:
                self.owners.delete(key)
        self.state.state_delete("delivery_settings", str(user.id))
        self.users.delete(str(user.id))
        self.state.state_delete("user_email", user.email)
        return user

    def authenticate(self, email: str, password: str) -> User | None:
        """The user when the password is theirs. Rehashes an outdated hash."""
        user = self.by_email(email)
        if len(password) > MAX_PASSWORD:
            return None
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user = self.set_password(user, password)
        return user

    # -- API tokens ---------------------------------------------------------------

    def new_token(self, user: User) -> str:
        """A new token for the user: returned once, only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.tokens.put(token_digest(token), ApiToken(user_id=user.id, created_at=_now()))
        return token

    # `builtins.list` in annotations below: the method `list` shadows it in the class body
    def user_tokens(self, user: User) -> builtins.list[tuple[str, ApiToken]]:
        """(short id, token record) of the user's tokens, oldest first."""
        mine = [(d[:12], t) for d, t in self.tokens.items() if t.user_id == user.id]
        return sorted(mine, key=lambda x: x[1].created_at)

    def revoke_token(self, user: User, short_id: str) -> bool:
        short_id = short_id.strip().lower()
        if len(short_id) < 6:
            raise AccountError("give the token's id as `user token EMAIL --list` shows it")
        hits = [d for d, t in self.tokens.items() if t.user_id == user.id and d.startswith(short_id)]
        for d in hits:
            self.tokens.delete(d)
        return bool(hits)

    def user_for_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        # looked up by the token's hash: nothing secret is compared byte by byte
        record = self.tokens.get(token_digest(token))
        return None if record is None else self.get(record.user_id)

    # -- alert owners ---------------------------------------------------------------

    def owners_by_alert(self) -> dict[int, int]:
        return {int(k): o.user_id for k, o in self.owners.items() if k.isdigit()}

    def set_owner(self, alert_id: int, user: User) -> None:
        self.owners.put(str(alert_id), Owner(user_id=user.id))

    def forget_alert(self, alert_id: int) -> None:
        self.owners.delete(str(alert_id))

    # -- failed sign-ins ----------------------------------------------------------------

    def _fails(self, key: str, now: datetime) -> builtins.list[datetime]:
        doc = self.state.state_get("login_fail", key) or {}
        times = [datetime.fromisoformat(t) for t in doc.get("times", [])]
        return [t for t in times if now - t < LOCKOUT_WINDOW]

    def locked_out(self, email: str, address: str, now: datetime | None = None) -> timedelta | None:
        """How long until another try is allowed, when the account or the address
        has LOCKOUT_FAILURES failures in the window; else None."""
        now = now or _now()
        waits = []
        for key in self._fail_keys(email, address):
            times = self._fails(key, now)
            if len(times) >= LOCKOUT_FAILURES:
                waits.append(min(times) + LOCKOUT_WINDOW - now)
        return max(waits) if waits else None

    def record_failure(self, email: str, address: str, now: datetime | None = None) -> None:
        # read-modify-write, not atomic: a lockout that may let a few extra tries through under a race
        now = now or _now()
        for key in self._fail_keys(email, address):
            times = self._fails(key, now)[-(LOCKOUT_FAILURES * 2) :] + [now]
            self.state.state_put("login_fail", key, {"times": [t.isoformat() for t in times]})

    def clear_failures(self, email: str) -> None:
        self.state.state_delete("login_fail", self._fail_keys(email, "")[0])

    @staticmethod
    def _fail_keys(email: str, address: str) -> builtins.list[str]:
        acct = "acct:" + hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]
        return [acct] + (["ip:" + address[:200]] if address else [])
