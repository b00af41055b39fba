"""One TOML file read once into a frozen, validated :class:`Settings`.

Lookup order: ``-c/--config PATH``, ``$LISTARCHIVE_CONFIG``, ``./listarchive.toml``, defaults.
Every key is documented in ``config.example.toml`` (a test checks it). The one value read from
the environment is the database URL (``$LISTARCHIVE_DATABASE_URL``), when the file names none.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from listarchive.errors import ConfigError

DATABASE_URL_ENV = "LISTARCHIVE_DATABASE_URL"
LIST_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
RESERVED_LIST_NAMES = frozenset({"all", "api", "r", "series", "patch", "s", "static", "login",
                                  "logout", "account", "admin", "queue", "bulk", "robots.txt",
                                  "favicon.ico", "follow", "unfollow"})


@dataclass(frozen=True)
class ListConfig:
    name: str
    list_id: str = ""
    description: str = ""
    address: str = ""
    restricted: bool = False


@dataclass(frozen=True)
class NotifyConfig:
    """``[notify]``: notification mail through an SMTP relay (off unless ``enabled``)."""

    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = 25
    sender: str = ""  # the ``from`` key
    starttls: bool = False
    username: str = ""
    password: str = ""
    max_attempts: int = 8


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("instance")
    database_url: str = ""
    pool_size: int = 5
    lock_timeout: float = 30.0
    pool_overflow: int = 10
    search_enabled: bool = True
    search_engine: str = "tantivy"
    search_dir: Path | None = None
    search_follow: bool | None = None
    batch_size: int = 500
    max_message_bytes: int = 64 * 1024 * 1024
    max_message_seconds: float = 10.0
    base_url: str = ""
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    lists: tuple[ListConfig, ...] = field(default_factory=tuple)
    embargo_reporters: frozenset[str] = frozenset()
    trusted_hosts: tuple[str, ...] = ()
    trusted_proxies: int = 0
    limit_search: str = "60/minute"
    limit_download: str = "30/minute"
    limit_api: str = "600/minute"
    limit_storage: str = "memory://"
    require_dkim: bool = False
    dkim_keys: Path | None = None
    notify: NotifyConfig = field(default_factory=lambda: NotifyConfig())

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'listarchive.sqlite3').resolve()}"

    @property
    def follows(self) -> bool:
        """Whether the site keeps its search index following the database (``[search]
        follow``): by default where the database is shared (PostgreSQL), the ingest worker
        writing a SQLite archive's index itself."""
        if self.search_follow is not None:
            return self.search_follow and self.search_enabled
        return self.search_enabled and not self.db_url.startswith("sqlite")

    @property
    def index_dir(self) -> Path:
        return self.search_dir if self.search_dir is not None else self.data_dir / "search"

    def list_config(self, name: str) -> ListConfig | None:
        for lst in self.lists:
            if lst.name == name:
                return lst
        return None


# key -> (section, name, type)
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "storage": {"data_dir": str, "database_url": str, "pool_size": int, "pool_overflow": int,
                "lock_timeout": (int, float)},
    "search": {"enabled": bool, "engine": str, "index_dir": str, "follow": (bool, str)},
    "ingest": {"batch_size": int, "max_message_bytes": int, "max_message_seconds": (int, float)},
    "web": {"base_url": str, "secret_key": str, "host": str, "port": int, "trusted_hosts": list,
            "trusted_proxies": int},
    "limits": {"search": str, "download": str, "api": str, "storage": str},
    "embargo": {"reporters": list},
    "automation": {"require_dkim": bool, "dkim_keys": str},
    "notify": {"enabled": bool, "smtp_host": str, "smtp_port": int, "from": str,
               "starttls": bool, "username": str, "password": str, "max_attempts": int},
}
SEARCH_ENGINES = ("tantivy", "whoosh")
_LIST_KEYS: dict[str, type] = {"name": str, "list_id": str, "description": str, "address": str,
                               "restricted": bool}


def _typed(key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    # bool is an int in Python: refuse `port = true`.
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(key, f"expected {name}, got {type(value).__name__} {value!r}")
    return value


def from_mapping(data: Mapping[str, Any], base: Path | None = None) -> Settings:
    """Validate a parsed TOML document; relative paths are taken from ``base``."""
    base = base or Path.cwd()
    values: dict[str, Any] = {}
    for section, body in data.items():
        if section == "lists":
            continue
        if section not in _SCHEMA:
            raise ConfigError(section, "unknown section")
        if not isinstance(body, dict):
            raise ConfigError(section, "expected a table")
        for key, value in body.items():
            full = f"{section}.{key}"
            if key not in _SCHEMA[section]:
                raise ConfigError(full, "unknown key")
            values[full] = _typed(full, value, _SCHEMA[section][key])

    def path(key: str) -> Path | None:
        raw = values.get(key)
        if not raw:
            return None
        p = Path(os.path.expanduser(raw))
        return p if p.is_absolute() else base / p

    batch = values.get("ingest.batch_size", 500)
    if not 1 <= batch <= 100_000:
        raise ConfigError("ingest.batch_size", "must be between 1 and 100000")
    port = values.get("web.port", 8080)
    if not 0 < port < 65536:
        raise ConfigError("web.port", "must be between 1 and 65535")
    # The environment can name the database instead of the file (keeping a password out of it):
    # LISTARCHIVE_DATABASE_URL, when the configuration names none.
    url = values.get("storage.database_url", "") or os.environ.get(DATABASE_URL_ENV, "")
    if url and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise ConfigError("storage.database_url", "must be a sqlite:// or postgresql+psycopg:// URL")
    lock_timeout = float(values.get("storage.lock_timeout", 30.0))
    if not 0.1 <= lock_timeout <= 3600:
        raise ConfigError("storage.lock_timeout", "must be between 0.1 and 3600")
    pool = values.get("storage.pool_size", 5)
    if not 1 <= pool <= 100:
        raise ConfigError("storage.pool_size", "must be between 1 and 100")
    overflow = values.get("storage.pool_overflow", 10)
    if not 0 <= overflow <= 100:
        raise ConfigError("storage.pool_overflow", "must be between 0 and 100")
    engine = values.get("search.engine", SEARCH_ENGINES[0])
    if engine not in SEARCH_ENGINES:
        raise ConfigError("search.engine", f"must be one of {', '.join(SEARCH_ENGINES)}")
    max_bytes = values.get("ingest.max_message_bytes", 64 * 1024 * 1024)
    if max_bytes < 1024:
        raise ConfigError("ingest.max_message_bytes", "must be at least 1024")
    max_seconds = float(values.get("ingest.max_message_seconds", 10.0))
    if not 0.1 <= max_seconds <= 3600:
        raise ConfigError("ingest.max_message_seconds", "must be between 0.1 and 3600")

    hosts = values.get("web.trusted_hosts", [])
    if not all(isinstance(h, str) and h and "/" not in h for h in hosts):
        raise ConfigError("web.trusted_hosts", "expected a list of host names")
    proxies = values.get("web.trusted_proxies", 0)
    if not 0 <= proxies <= 10:
        raise ConfigError("web.trusted_proxies", "must be between 0 and 10")
    limits = {name: values.get(f"limits.{name}", default) for name, default in (
        ("search", "60/minute"), ("download", "30/minute"), ("api", "600/minute"))}
    for name, value in limits.items():
        if value and not re.fullmatch(r"\d+\s*(?:/|per)\s*\d*\s*(?:second|minute|hour|day)s?",
                                      value.strip()):
            raise ConfigError(f"limits.{name}", "expected a rate such as \"60/minute\" or \"\" (off)")
    storage = values.get("limits.storage", "memory://")
    if not re.match(r"^(memory|redis|rediss|memcached)://", storage):
        raise ConfigError("limits.storage", "expected memory://, redis://... or memcached://...")
    reporters = values.get("embargo.reporters", [])
    if not all(isinstance(r, str) and "@" in r for r in reporters):
        raise ConfigError("embargo.reporters", "expected a list of e-mail addresses")

    lists = _parse_lists(data.get("lists", []))
    notify = _notify_config(values)
    return Settings(
        data_dir=path("storage.data_dir") or base / "instance",
        database_url=url,
        pool_size=pool,
        lock_timeout=lock_timeout,
        pool_overflow=overflow,
        search_enabled=values.get("search.enabled", True),
        search_engine=engine,
        search_dir=path("search.index_dir"),
        search_follow=_follow(values.get("search.follow", "auto")),
        batch_size=batch,
        max_message_bytes=max_bytes,
        max_message_seconds=max_seconds,
        base_url=values.get("web.base_url", "").rstrip("/"),
        secret_key=values.get("web.secret_key", ""),
        host=values.get("web.host", "127.0.0.1"),
        port=port,
        lists=lists,
        embargo_reporters=frozenset(r.strip().lower() for r in reporters),
        trusted_hosts=tuple(h.strip().lower() for h in hosts),
        trusted_proxies=proxies,
        limit_search=limits["search"].strip(),
        limit_download=limits["download"].strip(),
        limit_api=limits["api"].strip(),
        limit_storage=storage,
        require_dkim=values.get("automation.require_dkim", False),
        dkim_keys=path("automation.dkim_keys"),
        notify=notify,
    )


def _follow(value: bool | str) -> bool | None:
    """``[search] follow``: true, false or "auto" (None: decided by the database)."""
    if isinstance(value, bool):
        return value
    if value != "auto":
        raise ConfigError("search.follow", 'expected true, false or "auto"')
    return None


def _notify_config(values: Mapping[str, Any]) -> NotifyConfig:
    enabled = values.get("notify.enabled", False)
    host = values.get("notify.smtp_host", "localhost").strip()
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise ConfigError("notify.smtp_host", "expected a host name or address")
    port = values.get("notify.smtp_port", 25)
    if not 0 < port < 65536:
        raise ConfigError("notify.smtp_port", "must be between 1 and 65535")
    sender = values.get("notify.from", "").strip()
    if sender and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", sender.rsplit("<", 1)[-1].rstrip(">")):
        raise ConfigError("notify.from", "expected an e-mail address such as "
                                         "\"Archive <archive@example.org>\"")
    if enabled and not sender:
        raise ConfigError("notify.from", "required when notifications are enabled")
    username = values.get("notify.username", "")
    password = values.get("notify.password", "")
    if bool(username) != bool(password):
        raise ConfigError("notify.password" if username else "notify.username",
                          "username and password go together")
    attempts = values.get("notify.max_attempts", 8)
    if not 1 <= attempts <= 100:
        raise ConfigError("notify.max_attempts", "must be between 1 and 100")
    return NotifyConfig(enabled=enabled, smtp_host=host, smtp_port=port, sender=sender,
                        starttls=values.get("notify.starttls", False), username=username,
                        password=password, max_attempts=attempts)


def _parse_lists(raw: Any) -> tuple[ListConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError("lists", "expected an array of tables ([[lists]])")
    seen: set[str] = set()
    out = []
    for i, entry in enumerate(raw):
        where = f"lists[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(where, "expected a table")
        for key, value in entry.items():
            if key not in _LIST_KEYS:
                raise ConfigError(f"{where}.{key}", "unknown key")
            _typed(f"{where}.{key}", value, _LIST_KEYS[key])
        name = entry.get("name")
        if name is None:
            raise ConfigError(f"{where}.name", "missing")
        check_list_name(name, f"{where}.name")
        if name in seen:
            raise ConfigError(f"{where}.name", f"list {name!r} declared twice")
        seen.add(name)
        out.append(ListConfig(**entry))
    return tuple(out)


def check_list_name(name: str, key: str = "--list") -> str:
    if not LIST_NAME_RE.match(name):
        raise ConfigError(key, f"{name!r} is not a valid list name (lowercase letters, digits, . _ -)")
    if name in RESERVED_LIST_NAMES:
        raise ConfigError(key, f"{name!r} is reserved for a site URL")
    return name


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Find and read the configuration (see module docstring for the lookup order)."""
    candidate: Path | None = None
    if path is not None:
        candidate = Path(path)
        if not candidate.is_file():
            raise ConfigError("--config", f"no such file: {candidate}")
    elif os.environ.get("LISTARCHIVE_CONFIG"):
        candidate = Path(os.environ["LISTARCHIVE_CONFIG"])
        if not candidate.is_file():
            raise ConfigError("LISTARCHIVE_CONFIG", f"no such file: {candidate}")
    elif Path("listarchive.toml").is_file():
        candidate = Path("listarchive.toml")
    if candidate is None:
        return from_mapping({})
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(candidate), f"not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(candidate), "not UTF-8") from exc
    return from_mapping(data, base=candidate.resolve().parent)
