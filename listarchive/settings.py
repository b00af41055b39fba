"""One TOML file read once into a frozen, validated :class:`Settings`.

Lookup order: ``-c/--config PATH``, ``$LISTARCHIVE_CONFIG``, ``./listarchive.toml``, defaults.
Every key is documented in ``config.example.toml`` (a test checks it).
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

LIST_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
RESERVED_LIST_NAMES = frozenset({"all", "api", "r", "series", "patch", "s", "static", "login",
                                  "logout", "account", "admin", "queue", "bulk"})


@dataclass(frozen=True)
class ListConfig:
    name: str
    list_id: str = ""
    description: str = ""
    address: str = ""
    restricted: bool = False


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("instance")
    database_url: str = ""
    search_enabled: bool = True
    search_engine: str = "tantivy"
    search_dir: Path | None = None
    batch_size: int = 500
    max_message_bytes: int = 64 * 1024 * 1024
    base_url: str = ""
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    lists: tuple[ListConfig, ...] = field(default_factory=tuple)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'listarchive.sqlite3').resolve()}"

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
    "storage": {"data_dir": str, "database_url": str},
    "search": {"enabled": bool, "engine": str, "index_dir": str},
    "ingest": {"batch_size": int, "max_message_bytes": int},
    "web": {"base_url": str, "secret_key": str, "host": str, "port": int},
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
    url = values.get("storage.database_url", "")
    if url and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise ConfigError("storage.database_url", "must be a sqlite:// or postgresql+psycopg:// URL")
    engine = values.get("search.engine", SEARCH_ENGINES[0])
    if engine not in SEARCH_ENGINES:
        raise ConfigError("search.engine", f"must be one of {', '.join(SEARCH_ENGINES)}")
    max_bytes = values.get("ingest.max_message_bytes", 64 * 1024 * 1024)
    if max_bytes < 1024:
        raise ConfigError("ingest.max_message_bytes", "must be at least 1024")

    lists = _parse_lists(data.get("lists", []))
    return Settings(
        data_dir=path("storage.data_dir") or base / "instance",
        database_url=url,
        search_enabled=values.get("search.enabled", True),
        search_engine=engine,
        search_dir=path("search.index_dir"),
        batch_size=batch,
        max_message_bytes=max_bytes,
        base_url=values.get("web.base_url", "").rstrip("/"),
        secret_key=values.get("web.secret_key", ""),
        host=values.get("web.host", "127.0.0.1"),
        port=port,
        lists=lists,
    )


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
