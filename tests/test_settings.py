"""Settings and the services file: a bad value stops startup with one line naming it, never its secret."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.common.errors import ConfigError
from bot.config.services import load_services, parse_services
from bot.config.settings import database_url_for_sqlalchemy, load_settings


@pytest.mark.parametrize(("name", "value"), [
    ("SLACK_BOT_TOKEN", "not-a-token-but-secret-ish"), ("SLACK_APP_TOKEN", "xoxb-wrong-kind-of-token"),
    ("PORT", "70000"), ("DATABASE_URL", "mysql://u:hunter2@h/d"), ("SLACK_API_URL", "ftp://x"),
    ("LOG_LEVEL", "LOUD"), ("CHATOPS_LANGUAGE", "fr"), ("CHATOPS_DB_TIMEOUT_SECONDS", "0"),
])
def test_a_malformed_setting_names_the_variable_and_not_its_value(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    message = str(err.value)
    assert message.startswith(f"{name} is malformed: expected ")
    assert value not in message and "hunter2" not in message


@pytest.mark.parametrize(("given", "expected"), [
    ("sqlite:///chatops.db", "sqlite+aiosqlite:///chatops.db"),
    ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ("postgres://u:p@db.railway.internal:5432/railway", "postgresql+asyncpg://u:p@db.railway.internal:5432/railway"),
    ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
])
def test_database_urls_as_people_and_railway_write_them(given, expected):
    assert database_url_for_sqlalchemy(given)[0] == expected


def test_sslmode_becomes_asyncpgs_ssl_argument():
    url, args = database_url_for_sqlalchemy("postgresql://u@h/d?sslmode=require")
    assert "sslmode" not in url and args == {"ssl": "require"}


async def test_the_database_timeout_bounds_postgresql_and_the_pool(pg_url):
    """CHATOPS_DB_TIMEOUT_SECONDS reaches the bot's store: PostgreSQL's statement_timeout on every connection
    (a statement running past it is cancelled and reported as the database not answering in time) and the
    wait for a pooled connection. A server that never answers is tests/test_faults.py's."""
    import httpx
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from bot.config.services import ServicesFile
    from bot.runtime import build_runtime
    from bot.store import StoreUnavailable

    assert load_settings(_env_file=None, DATABASE_URL=pg_url).CHATOPS_DB_TIMEOUT_SECONDS == 10
    settings = load_settings(_env_file=None, DATABASE_URL=pg_url, CHATOPS_DB_TIMEOUT_SECONDS="0.5")
    async with httpx.AsyncClient() as http:
        rt = build_runtime(settings, ServicesFile(), http=http, railway=None)
        try:
            async with rt.store.session() as session:
                assert (await session.execute(text("SHOW statement_timeout"))).scalar() == "500ms"
            assert rt.store.engine.pool.timeout() == 0.5
            with pytest.raises(StoreUnavailable):
                async with rt.store.session() as session:
                    await session.execute(text("SELECT pg_sleep(5)"))
            with pytest.raises(DBAPIError):  # a statement refused is not the database being away
                async with rt.store.session() as session:
                    await session.execute(text("SELECT 1 / 0"))
            async with rt.store.session() as session:  # the connection is fine afterwards
                assert (await session.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await rt.store.dispose()


def test_the_language_follows_the_system_locale_unless_set(monkeypatch):
    monkeypatch.delenv("CHATOPS_LANGUAGE", raising=False)
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LANG", "es_MX.UTF-8")
    assert load_settings(_env_file=None).CHATOPS_LANGUAGE == "es"
    monkeypatch.setenv("CHATOPS_LANGUAGE", "en")
    assert load_settings(_env_file=None).CHATOPS_LANGUAGE == "en"


def test_serve_without_a_token_stops_with_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["chatops: SLACK_BOT_TOKEN is not set: expected a bot token starting with xoxb-."]


@pytest.mark.parametrize(("text", "expected"), [
    ('[[services]]\nname = "x"\nurl = "ftp://a"', "f.toml: services[0].url: Value error, must be an http(s) URL"),
    ('[[services]]\nname = "x"', "f.toml: services[0].url: Field required"),
    ('[[services]]\nname = "a"\nurl = "http://a"\n[[services]]\nname = "a"\nurl = "http://b"', "appears twice"),
    ("[approvals]\nttl_minutes = 0", "f.toml: approvals.ttl_minutes:"),
    ("[monitor]\ninterval_secnds = 5", "f.toml: monitor.interval_secnds: Extra inputs are not permitted"),
    ("[[services]\nname=", "f.toml: not valid TOML"),
])
def test_the_services_file_errors_name_the_file_and_key(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_services(text, "f.toml")
    assert expected in str(err.value)


def test_a_missing_default_services_file_is_empty_but_a_named_one_is_an_error(tmp_path):
    assert load_services(tmp_path / "chatops.toml", required=False).services == []
    with pytest.raises(ConfigError, match="does not exist"):
        load_services(tmp_path / "chatops.toml", required=True)


def test_the_env_file_then_the_environment_then_overrides(monkeypatch, tmp_path):
    """The order pydantic-settings had: a ``.env`` file, the environment over it, explicit values over both."""
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nLOG_LEVEL=debug\nCHATOPS_WORKERS=7\nNOT_A_SETTING=x\nport=1\n", encoding="utf-8")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.setenv("CHATOPS_WORKERS", "8")
    monkeypatch.delenv("PORT", raising=False)
    settings = load_settings(_env_file=env_file, CHATOPS_WORKERS=9)
    assert (settings.PORT, settings.LOG_LEVEL, settings.CHATOPS_WORKERS) == (4000, "WARNING", 9)
    assert load_settings(_env_file=None).PORT == 3000  # no file: the default; names are case-sensitive


def test_a_missing_env_file_is_no_error(tmp_path):
    assert load_settings(_env_file=tmp_path / "absent.env").PORT == 3000


def test_a_malformed_value_in_the_env_file_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=eighty\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="PORT is malformed") as failed:
        load_settings(_env_file=env_file)
    assert "eighty" not in str(failed.value)
