"""Accounts: argon2 passwords (with re-hash of weaker hashes), API tokens stored as hashes only,
the login rate limit, and the ``user``/``token`` commands."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from listarchive.access import accounts
from listarchive.archive.db import make_engine, make_sessionmaker, open_archive
from listarchive.archive.models import ApiToken, Grant, User
from listarchive.settings import Settings


@pytest.fixture
def session(settings: Settings):
    archive = open_archive(settings)
    with archive.sessions.begin() as session:
        yield session
    archive.close()


def test_password_is_hashed_and_verified(session):
    user = accounts.create_user(session, "maint", "Maint@Example.ORG", "correct horse battery")
    assert user.email == "maint@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert accounts.verify_password(user, "correct horse battery")
    assert not accounts.verify_password(user, "correct horse batterY")
    assert not accounts.verify_password(user, "")


def test_weak_hash_is_replaced_at_login(session):
    user = accounts.create_user(session, "old", "old@example.org", None)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("s3cret-pw")
    weak = user.password_hash
    assert accounts.verify_password(user, "s3cret-pw")
    assert user.password_hash != weak and accounts.verify_password(user, "s3cret-pw")
    assert user.password_hash.startswith("$argon2id$")


def test_account_without_password_cannot_log_in(session):
    user = accounts.create_user(session, "bot", "bot@example.org", None)
    assert not accounts.verify_password(user, "")
    assert accounts.check_login(session, "bot", "", "10.0.0.1") is None


@pytest.mark.parametrize(("name", "email", "password"), [
    ("bad name", "a@example.org", "long enough"),
    ("", "a@example.org", "long enough"),
    ("ok", "not-an-address", "long enough"),
    ("ok", "a@example.org", "short"),
])
def test_invalid_accounts_are_refused(session, name, email, password):
    with pytest.raises(accounts.AccountError):
        accounts.create_user(session, name, email, password)


def test_duplicate_name_is_refused(session):
    accounts.create_user(session, "maint", "a@example.org", None)
    with pytest.raises(accounts.AccountError):
        accounts.create_user(session, "maint", "b@example.org", None)


def test_tokens_are_stored_hashed_and_authenticate(session):
    user = accounts.create_user(session, "maint", "m@example.org", None)
    token = accounts.new_token(session, user, "git-pw")
    row = session.scalars(select(ApiToken)).one()
    assert token not in (row.token_hash, row.prefix) and row.prefix == token[:8]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert accounts.authenticate_token(session, token) is user
    assert accounts.authenticate_token(session, f"  {token}\n") is user
    assert row.last_used is not None
    assert accounts.authenticate_token(session, token[:-1] + ("A" if token[-1] != "A" else "B")) \
        is None
    assert accounts.authenticate_token(session, token[:8]) is None
    assert accounts.authenticate_token(session, "") is None
    other = accounts.new_token(session, user)
    assert other != token and accounts.authenticate_token(session, other) is user
    assert accounts.revoke_tokens(session, user) == 2
    assert accounts.authenticate_token(session, token) is None


def test_login_rate_limit(session):
    accounts.create_user(session, "maint", "m@example.org", "correct horse")
    limit = accounts.LoginLimit(per_name=3, per_address=5, window=timedelta(minutes=10),
                                delay=timedelta(seconds=30))
    now = datetime(2024, 5, 1, 12, 0)
    assert accounts.check_login(session, "maint", "correct horse", "10.0.0.1", limit, now)
    for n in range(3):
        assert accounts.check_login(session, "maint", "guess", "10.0.0.1", limit,
                                    now + timedelta(seconds=n)) is None
    # That address waits now, even with the right password; trying while waiting doubles it...
    assert accounts.check_login(session, "maint", "correct horse", "10.0.0.1", limit,
                                now + timedelta(seconds=10)) is None
    assert accounts.login_blocked(session, "maint", "10.0.0.1", limit, now + timedelta(seconds=60))
    assert not accounts.login_blocked(session, "maint", "10.0.0.1", limit,
                                      now + timedelta(seconds=71))
    # ...but the owner is never locked out elsewhere, nor once the window has passed.
    assert accounts.check_login(session, "maint", "correct horse", "10.0.0.2", limit,
                                now + timedelta(seconds=60)) is not None
    assert accounts.check_login(session, "maint", "correct horse", "10.0.0.1", limit,
                                now + timedelta(minutes=11)) is not None


def test_login_waits_grow_and_stop_at_the_window():
    limit = accounts.LoginLimit(per_name=3, window=timedelta(minutes=15),
                                delay=timedelta(seconds=30))
    assert [limit.wait(n, 3).total_seconds() for n in range(2, 9)] == [
        0, 30, 60, 120, 240, 480, 900]


def test_one_address_trying_many_names_is_limited(session):
    accounts.create_user(session, "maint", "m@example.org", "correct horse")
    limit = accounts.LoginLimit(per_name=3, per_address=5, window=timedelta(minutes=10))
    now = datetime(2024, 5, 1, 12, 0)
    for n in range(5):
        assert accounts.check_login(session, f"user{n}", "guess", "10.9.9.9", limit, now) is None
    assert accounts.check_login(session, "maint", "correct horse", "10.9.9.9", limit, now) is None


def test_success_clears_failures(session):
    accounts.create_user(session, "maint", "m@example.org", "correct horse")
    limit = accounts.LoginLimit(per_name=3, per_address=50, window=timedelta(minutes=10))
    now = datetime(2024, 5, 1, 12, 0)
    for _ in range(2):
        accounts.check_login(session, "maint", "typo", "10.0.0.1", limit, now)
    assert accounts.check_login(session, "maint", "correct horse", "10.0.0.1", limit, now)
    for _ in range(2):
        accounts.check_login(session, "maint", "typo", "10.0.0.1", limit, now)
    assert accounts.check_login(session, "maint", "correct horse", "10.0.0.1", limit, now)


def test_user_and_token_commands(settings: Settings, cli, tmp_path: Path):
    cfg = tmp_path / "listarchive.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{settings.data_dir}"\n\n[search]\nenabled = false\n'
                   f'\n[[lists]]\nname = "linux-clk"\nlist_id = "linux-clk.vger.kernel.org"\n')
    added = cli(["-c", str(cfg), "user", "add", "maint", "--email", "maint@example.org",
                 "--maintainer", "linux-clk", "--maintainer", "subsystem:COMMON CLK FRAMEWORK",
                 "--password-stdin"], cwd=tmp_path, stdin=b"correct horse battery\n")
    assert added.returncode == 0, added.stderr
    unknown = cli(["-c", str(cfg), "user", "add", "x", "--email", "x@example.org",
                   "--maintainer", "no-such-list", "--no-password"], cwd=tmp_path)
    assert unknown.returncode == 1 and b"neither a list nor a subsystem" in unknown.stderr
    again = cli(["-c", str(cfg), "user", "add", "maint", "--email", "m@example.org",
                 "--password-stdin"], cwd=tmp_path, stdin=b"another password\n")
    assert again.returncode == 1 and b"exists already" in again.stderr
    token = cli(["-c", str(cfg), "token", "maint"], cwd=tmp_path)
    assert token.returncode == 0
    assert cli(["-c", str(cfg), "token", "nobody"], cwd=tmp_path).returncode == 1
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as session:
        user = session.scalars(select(User).where(User.name == "maint")).one()
        assert accounts.verify_password(user, "correct horse battery")
        assert sorted((g.scope_kind, g.scope_name) for g in session.scalars(select(Grant))) == [
            ("list", "linux-clk"), ("subsystem", "COMMON CLK FRAMEWORK")]
        assert accounts.authenticate_token(session, token.stdout.decode().strip()) is not None
        assert session.scalars(select(User).where(User.name == "x")).first() is None
    engine.dispose()
    listed = cli(["-c", str(cfg), "user", "list"], cwd=tmp_path)
    assert b"maint\tmaint@example.org\t-\tlist:linux-clk, subsystem:COMMON CLK FRAMEWORK" in \
        listed.stdout
