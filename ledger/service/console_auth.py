"""Staff accounts of the console: users per organisation with roles, argon2 password
hashes, sessions, the login lockout, and the audit trail (docs/CONSOLE.md).

An organisation is an actor of the log: a brand (roles ``admin``, ``analyst``,
``triager``) or the operator (``admin``, ``onboarding``). A password is stored only as
its argon2id hash (argon2-cffi's defaults, RFC 9106's second recommended profile); a
session is a random cookie whose SHA-256 alone is stored, valid for `SESSION_TTL`.
`MAX_FAILURES` wrong passwords in a row lock the account for `LOCKOUT`; an unknown
username costs the same hash as a known one, so the answer's timing does not tell
which usernames exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ledger.errors import LedgerError, ValidationError
from ledger.events import format_time, parse_time
from ledger.store import ConsoleStore

#: the roles of each kind of organisation
ROLES: dict[str, tuple[str, ...]] = {
    "brand": ("admin", "analyst", "triager"),
    "operator": ("admin", "onboarding"),
}
#: what each (kind, role) may do beyond looking
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    # catalog: upload product pictures, void print batches (docs/CONSOLE.md)
    ("brand", "admin"): frozenset(
        {"triage", "confirm", "recall", "users", "revoke", "settings", "catalog"}
    ),
    ("brand", "triager"): frozenset({"triage", "confirm"}),
    ("brand", "analyst"): frozenset(),
    ("operator", "admin"): frozenset({"triage", "users", "onboard", "blacklist"}),
    ("operator", "onboarding"): frozenset({"onboard"}),
}
MAX_FAILURES = 10
LOCKOUT = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=8)
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
_HASHER = PasswordHasher()
#: verified against when the username is unknown, so both cost one hash
_DUMMY = _HASHER.hash("provenance-ledger: no such user")


class LoginError(LedgerError):
    """A wrong username or password (which of the two is not said)."""

    code = "login-failed"
    status = 401


class AccountLockedError(LedgerError):
    """Too many wrong passwords in a row: the account is locked for a while."""

    code = "account-locked"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Staff:
    """A signed-in staff member: username, organisation, its kind, role, session."""

    username: str
    org: str
    kind: str
    role: str
    session: str = ""

    def may(self, action: str) -> bool:
        """True if the role allows ``action`` (``triage``, ``confirm``, ``recall``,
        ``users``, ``revoke``, ``settings``, ``catalog``, ``onboard``, ``blacklist``);
        every role may look at its organisation's data."""
        return action in PERMISSIONS.get((self.kind, self.role), frozenset())

    @property
    def operator(self) -> bool:
        """True for the operator's staff."""
        return self.kind == "operator"


def session_hash(token: str) -> str:
    """The stored form of a session cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


class StaffService:
    """The accounts, sessions and audit trail of one database's console.

    ``kind_of(org)`` answers an organisation's kind (``brand``, ``operator``) or None.
    """

    def __init__(
        self,
        store: ConsoleStore,
        kind_of: Callable[[str], str | None],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._kind_of = kind_of
        self._clock = clock

    def add_user(self, org: str, username: str, role: str) -> str:
        """Create ``username`` in ``org`` with ``role``; return its one-time password.

        Raises:
            ValidationError: a malformed username, an organisation that is neither a
                brand nor the operator, a role its kind does not have.
            ConflictError: the username is taken.
        """
        if not _USERNAME.fullmatch(username):
            raise ValidationError(
                "a username is 2-64 of a-z, 0-9, '.', '_' and '-'", field="username"
            )
        kind = self._kind_of(org)
        if kind not in ROLES:
            raise ValidationError(f"{org!r} is not a registered brand or operator", field="org")
        if role not in ROLES[kind]:
            raise ValidationError(f"a {kind}'s roles are {', '.join(ROLES[kind])}", field="role")
        password = secrets.token_urlsafe(12)
        self._store.add_user(
            {
                "username": username,
                "org": org,
                "role": role,
                "password_hash": _HASHER.hash(password),
                "failures": 0,
                "locked_until": None,
                "created_at": format_time(self._clock()),
            }
        )
        return password

    def login(self, username: str, password: str) -> tuple[Staff, str]:
        """Check a password; return the staff member and a new session cookie.

        Raises:
            LoginError: an unknown username or a wrong password.
            AccountLockedError: the account is locked (`MAX_FAILURES` wrong passwords in
                a row); the password is not even checked until the lockout ends.
        """
        now = self._clock()
        row = self._store.user(username[:64])
        if row is None:
            _verify(_DUMMY, password)
            raise LoginError("wrong username or password")
        locked = row["locked_until"]
        if locked is not None and now < parse_time(locked):
            wait = int((parse_time(locked) - now).total_seconds()) + 1
            raise AccountLockedError(f"this account is locked; try again in {wait} s", wait)
        if not _verify(row["password_hash"], password):
            failures = row["failures"] + 1
            if failures >= MAX_FAILURES:
                until = format_time(now + LOCKOUT)
                self._store.set_login_state(username, 0, until)
                self.audit(row["org"], username, "lockout", username, None)
                raise AccountLockedError(
                    f"{MAX_FAILURES} wrong passwords: this account is locked for "
                    f"{int(LOCKOUT.total_seconds()) // 60} minutes",
                    int(LOCKOUT.total_seconds()),
                )
            self._store.set_login_state(username, failures, None)
            raise LoginError("wrong username or password")
        if row["failures"] or locked is not None:
            self._store.set_login_state(username, 0, None)
        if _HASHER.check_needs_rehash(row["password_hash"]):
            self._store.set_password(username, _HASHER.hash(password))
        token = secrets.token_urlsafe(32)
        self._store.add_session(
            {
                "token_hash": session_hash(token),
                "username": username,
                "created_at": format_time(now),
                "expires_at": format_time(now + SESSION_TTL),
            }
        )
        self.audit(row["org"], username, "login", username, None)
        return self._staff(row, session_hash(token)), token

    def staff(self, token: str) -> Staff | None:
        """The staff member a session cookie signs in, or None (unknown or expired)."""
        if not token or len(token) > 128:
            return None
        found = self._store.session(session_hash(token))
        if found is None or parse_time(found["expires_at"]) <= self._clock():
            return None
        return self._staff(found, found["token_hash"])

    def logout(self, staff: Staff) -> None:
        """End the session ``staff`` is signed in with."""
        self._store.end_session(staff.session)
        self.audit(staff.org, staff.username, "logout", staff.username, None)

    def users(self, org: str | None) -> list[dict[str, Any]]:
        """The accounts of ``org`` (None: all), without their hashes."""
        return [
            {k: v for k, v in r.items() if k != "password_hash"} for r in self._store.users(org)
        ]

    def audit(self, org: str, username: str, action: str, target: str, detail: str | None) -> None:
        """Append one action to the audit trail."""
        self._store.audit(
            {
                "at": format_time(self._clock()),
                "org": org,
                "username": username,
                "action": action[:32],
                "target": target[:200],
                "detail": detail[:2000] if detail else None,
            }
        )

    def audit_trail(self, org: str | None) -> list[dict[str, Any]]:
        """The latest actions of ``org`` (None: every organisation), newest first."""
        return self._store.audit_trail(org)

    def _staff(self, row: dict[str, Any], session: str) -> Staff:
        kind = self._kind_of(row["org"]) or "none"
        return Staff(row["username"], row["org"], kind, row["role"], session)


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(stored, password[:1024]))
    except (VerificationError, InvalidHashError):
        return False
