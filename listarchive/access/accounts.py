"""Accounts: users, their grants, passwords, API tokens and a login rate limit.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``); a hash made with older
parameters is replaced at the next successful login. API tokens are shown once: only their
SHA-256 is stored, with their first characters as an index (a token is 43 random URL-safe
characters, so the prefix does not help guessing). Failed logins are counted in the database,
per (name, address) and per address, so every web worker process sees the same counts.

The functions take a session and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from listarchive.archive.models import (
    ApiToken,
    Grant,
    LoginFailure,
    MailingList,
    Subsystem,
    User,
)
from listarchive.clock import utcnow
from listarchive.errors import ListarchiveError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
TOKEN_PREFIX_LEN = 8
MIN_PASSWORD = 8
_hasher = PasswordHasher()


class AccountError(ListarchiveError):
    """A user name, address, password, grant or token that cannot be accepted."""


@dataclass(frozen=True)
class LoginLimit:
    """How failed logins slow the next try: per (name, address), and per address over all names
    (one client trying many accounts). Past ``per_name`` (or ``per_address``) failures within
    ``window``, each further try waits ``delay`` doubled per failure since, at most ``window``:
    a guesser is slowed to a crawl, while the owner typing from another address is never
    locked out, and nobody can lock a name for everyone."""

    per_name: int = 5
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)
    delay: timedelta = timedelta(seconds=30)

    def wait(self, failures: int, allowed: int) -> timedelta:
        """How long after the last failure the next try is refused."""
        if failures < allowed:
            return timedelta(0)
        return min(self.window, self.delay * (2 ** min(failures - allowed, 20)))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_hash(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that an unknown name costs as much
    time as a wrong password and response times do not reveal which accounts exist."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(user: User, password: str) -> bool:
    """Check ``password``; on success, re-hash it if it was hashed with weaker parameters."""
    if not user.password_hash:
        _verify_hash(_dummy_hash(), password)
        return False
    if not _verify_hash(user.password_hash, password):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return True


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    user.password_hash = hash_password(password)


def get_user(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).first()


def users_by_email(session: Session, emails: Iterable[str]) -> dict[str, list[User]]:
    """Lower-cased address -> the accounts registered with it (usually one)."""
    wanted = sorted({e.lower() for e in emails if e})
    out: dict[str, list[User]] = {}
    if not wanted:
        return out
    for user in session.scalars(select(User).where(User.email.in_(wanted)).order_by(User.id)):
        out.setdefault(user.email, []).append(user)
    return out


KINDS = ("person", "bot")


def create_user(session: Session, name: str, email: str, password: str | None,
                is_admin: bool = False, kind: str = "person") -> User:
    """Create an account; ``password`` None makes one that cannot log in (API tokens only).
    A ``bot`` (a CI system) never logs in; its grants let it post checks, nothing else."""
    if kind not in KINDS:
        raise AccountError(f"unknown account kind {kind!r} (person or bot)")
    if kind == "bot":
        password = None
    if not _NAME_RE.match(name):
        raise AccountError(f"invalid user name {name!r}: letters, digits, '.', '_', '-', "
                           f"at most 64 characters")
    email = email.strip().lower()
    if not _EMAIL_RE.match(email) or len(email) > 320:
        raise AccountError(f"invalid e-mail address {email!r}")
    if get_user(session, name) is not None:
        raise AccountError(f"user {name!r} exists already")
    user = User(name=name, email=email, password_hash="", is_admin=is_admin, kind=kind,
                created=utcnow())
    if password is not None:
        set_password(user, password)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise AccountError(f"user {name!r} exists already") from exc
    return user


def resolve_scope(session: Session, scope: str,
                  known_lists: Iterable[str] = ()) -> tuple[str, str]:
    """``--maintainer`` value -> (``list`` | ``subsystem``, name). ``list:NAME`` and
    ``subsystem:NAME`` say which; a bare name is a list if one is stored or configured by that
    name, else a subsystem by name or slug (``ARM/QUALCOMM CLOCK DRIVERS`` or
    ``arm-qualcomm-clock-drivers``), else an error."""
    kind, sep, rest = scope.partition(":")
    if sep and kind in ("list", "subsystem"):
        if not rest.strip():
            raise AccountError(f"empty {kind} name in {scope!r}")
        if kind == "subsystem":
            return kind, _subsystem_name(session, rest.strip()) or rest.strip()
        return kind, rest.strip()
    name = scope.strip()
    lists = set(known_lists) | set(session.scalars(select(MailingList.name)))
    if name in lists:
        return "list", name
    found = _subsystem_name(session, name)
    if found is not None:
        return "subsystem", found
    raise AccountError(f"{scope!r} is neither a list nor a subsystem (import MAINTAINERS first, "
                       f"or write list:NAME / subsystem:NAME)")


def _subsystem_name(session: Session, name: str) -> str | None:
    return session.scalars(select(Subsystem.name).where(
        (func.lower(Subsystem.name) == name.lower()) | (Subsystem.slug == name.lower()))).first()


def grant(session: Session, user: User, kind: str, name: str) -> Grant:
    """Give ``user`` the right to change states on a list or subsystem (idempotent)."""
    if kind not in ("list", "subsystem"):
        raise AccountError(f"unknown grant kind {kind!r} (list or subsystem)")
    found = session.scalars(select(Grant).where(Grant.user_id == user.id, Grant.scope_kind == kind,
                                                Grant.scope_name == name)).first()
    if found is not None:
        return found
    row = Grant(user_id=user.id, scope_kind=kind, scope_name=name[:255])
    session.add(row)
    session.flush()
    return row


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_token(session: Session, user: User, label: str = "") -> str:
    """Create an API token for ``user`` and return it: the only time it can be seen."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, prefix=token[:TOKEN_PREFIX_LEN],
                         token_hash=_token_hash(token), label=label[:255], created=utcnow()))
    session.flush()
    return token


def revoke_tokens(session: Session, user: User) -> int:
    """Delete every token of ``user``; returns how many there were."""
    count = session.scalar(select(func.count()).select_from(ApiToken)
                           .where(ApiToken.user_id == user.id)) or 0
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    return count


def authenticate_token(session: Session, token: str) -> User | None:
    """The user an ``Authorization: Token ...`` value belongs to, or None. Compared in constant
    time; a token too short to have a prefix is refused without a query."""
    token = token.strip()
    if len(token) <= TOKEN_PREFIX_LEN or len(token) > 200:
        return None
    wanted = _token_hash(token)
    for row in session.scalars(select(ApiToken).where(
            ApiToken.prefix == token[:TOKEN_PREFIX_LEN])):
        if hmac.compare_digest(row.token_hash, wanted):
            row.last_used = utcnow()
            return row.user
    return None


def login_blocked(session: Session, name: str, ip: str, limit: LoginLimit = LoginLimit(),
                  now: datetime | None = None) -> bool:
    """Whether a try for this name from this address must wait (see :class:`LoginLimit`)."""
    now = now or utcnow()
    since = now - limit.window
    for condition, allowed in (((LoginFailure.name == name[:64]) & (LoginFailure.ip == ip[:64]),
                                limit.per_name),
                               (LoginFailure.ip == ip[:64], limit.per_address)):
        count, last = session.execute(select(func.count(), func.max(LoginFailure.at))
                                      .where(condition, LoginFailure.at >= since)).one()
        if last is not None and now < last + limit.wait(int(count), allowed):
            return True
    return False


def check_login(session: Session, name: str, password: str, ip: str,
                limit: LoginLimit = LoginLimit(), now: datetime | None = None) -> User | None:
    """The user if ``name``/``password`` are right and this address need not wait, else None.
    While it must wait, even the right password is refused (so guessing cannot go on); a success
    clears that name's failures from that address. The caller must commit even when None comes
    back, or the failure is not counted."""
    now = now or utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - limit.window))
    if login_blocked(session, name, ip, limit, now):
        # A try while waiting counts too: a guesser who keeps trying only waits longer.
        session.add(LoginFailure(name=name[:64], ip=ip[:64], at=now))
        session.flush()
        return None
    user = get_user(session, name)
    if user is None:
        _verify_hash(_dummy_hash(), password)
    elif verify_password(user, password):
        session.execute(delete(LoginFailure).where(LoginFailure.name == name[:64],
                                                   LoginFailure.ip == ip[:64]))
        return user
    session.add(LoginFailure(name=name[:64], ip=ip[:64], at=now))
    session.flush()
    return None
