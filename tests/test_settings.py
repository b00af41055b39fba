import re
from pathlib import Path

import pytest

from listarchive import settings as settings_mod
from listarchive.errors import ConfigError
from listarchive.settings import _LIST_KEYS, _SCHEMA, from_mapping

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_embedded_archive(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTARCHIVE_CONFIG", raising=False)
    monkeypatch.delenv("LISTARCHIVE_DATABASE_URL", raising=False)
    s = settings_mod.load()
    assert s.data_dir == tmp_path / "instance"
    assert s.db_url == f"sqlite:///{tmp_path / 'instance' / 'listarchive.sqlite3'}"
    assert s.index_dir == tmp_path / "instance" / "search"


def test_lookup_order_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "listarchive.toml").write_text('[web]\nport = 9000\n')
    other = tmp_path / "other.toml"
    other.write_text('[web]\nport = 9100\n')
    monkeypatch.delenv("LISTARCHIVE_CONFIG", raising=False)
    assert settings_mod.load().port == 9000
    monkeypatch.setenv("LISTARCHIVE_CONFIG", str(other))
    assert settings_mod.load().port == 9100
    assert settings_mod.load(tmp_path / "listarchive.toml").port == 9000


@pytest.mark.parametrize("doc, key", [
    ({"web": {"port": "80"}}, "web.port"),
    ({"web": {"port": True}}, "web.port"),
    ({"web": {"prot": 80}}, "web.prot"),
    ({"storage": {"database_url": "mysql://x"}}, "storage.database_url"),
    ({"ingest": {"batch_size": 0}}, "ingest.batch_size"),
    ({"lists": [{"name": "Bad Name"}]}, "lists[0].name"),
    ({"lists": [{"name": "all"}]}, "lists[0].name"),
    ({"lists": [{"name": "a"}, {"name": "a"}]}, "lists[1].name"),
    ({"lists": [{"name": "a", "restricted": "yes"}]}, "lists[0].restricted"),
    ({"nosuch": {}}, "nosuch"),
])
def test_invalid_config_names_the_key(doc, key):
    with pytest.raises(ConfigError) as err:
        from_mapping(doc)
    assert err.value.key == key
    assert key in str(err.value)


def test_bad_toml_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[web\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings_mod.load(bad)


def test_example_config_documents_every_key_and_loads():
    text = (ROOT / "config.example.toml").read_text()
    for section, keys in _SCHEMA.items():
        assert f"[{section}]" in text
        for key in keys:
            assert re.search(rf"^{key} = ", text, re.M), f"{section}.{key} undocumented"
    for key in _LIST_KEYS:
        assert re.search(rf"^{key} = ", text, re.M), f"lists.{key} undocumented"
    s = settings_mod.load(ROOT / "config.example.toml")
    assert s.lists[0].name == "linux-clk"


def test_the_environment_names_the_database_when_the_file_does_not(monkeypatch):
    monkeypatch.setenv("LISTARCHIVE_DATABASE_URL", "postgresql+psycopg://u:secret@db/archive")
    assert from_mapping({}).db_url == "postgresql+psycopg://u:secret@db/archive"
    named = from_mapping({"storage": {"database_url": "postgresql+psycopg://other/x"}})
    assert named.db_url == "postgresql+psycopg://other/x"
    monkeypatch.setenv("LISTARCHIVE_DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="storage.database_url"):
        from_mapping({})


def test_search_follow_is_automatic_by_database_and_checked():
    """A web server follows the database by itself where the database is shared."""
    pg = {"storage": {"database_url": "postgresql+psycopg://u@h/db"}}
    assert not from_mapping({"storage": {"database_url": "sqlite:////tmp/a.sqlite3"}}).follows
    assert from_mapping(pg).follows
    assert not from_mapping({**pg, "search": {"follow": False}}).follows
    assert from_mapping({"search": {"follow": True}}).follows
    assert not from_mapping({"search": {"follow": False}}).follows
    assert not from_mapping({**pg, "search": {"enabled": False}}).follows
    with pytest.raises(ConfigError) as bad:
        from_mapping({"search": {"follow": "sometimes"}})
    assert "search.follow" in str(bad.value)
