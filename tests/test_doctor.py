"""chatops doctor against the emulators: every check passes on a good setup, and each failure says what to do."""

from __future__ import annotations

import platform

import pytest

from bot.cli import main
from bot.common.identity import USER_AGENT, VERSION
from bot.store.migrate import upgrade_async
from sandbox.emulators.slack import SlackEmulator
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.rollback_env import RAILWAY_TOKEN


@pytest.fixture
def env(monkeypatch, tmp_path, slack, rollback_env):
    config = tmp_path / "chatops.toml"
    config.write_text(rollback_env.config())
    values = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url,
              "RAILWAY_API_URL": rollback_env.railway.graphql_url, "RAILWAY_API_TOKEN": RAILWAY_TOKEN,
              "DATABASE_URL": f"sqlite:///{tmp_path / 'doctor.db'}", "CHATOPS_CONFIG": str(config)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return values


async def _doctor(capsys, *args: str) -> tuple[int, str]:
    code = await _run(args)
    return code, capsys.readouterr().out


async def _run(args) -> int:
    import asyncio

    return await asyncio.to_thread(main, ["doctor", *args])


async def test_a_good_configuration_passes_every_check(env, capsys):
    await upgrade_async(env["DATABASE_URL"])
    code, out = await _doctor(capsys)
    assert code == 0, out
    assert "❌" not in out
    for expected in ("Signing secret is set", "Slack bot token works", "every scope", "Railway can see `backend`",
                     "`backend` answers", "database answers", "schema is up to date", "All"):
        assert expected in out


async def test_each_failure_says_what_to_do(env, capsys, monkeypatch, rollback_env):
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("RAILWAY_API_TOKEN", "not-a-valid-token")
    await rollback_env.target.close_port()
    code, out = await _doctor(capsys, "--lang", "es")
    assert code == 1
    assert "❌ El signing secret" in out and "Signing Secret en SLACK_SIGNING_SECRET" in out
    assert "❌ Railway ve `backend`" in out
    assert "❌ `backend` responde" in out
    assert "❌ El esquema" in out and "chatops migrate" in out  # never migrated
    assert "not-a-valid-token" not in out and BOT_TOKEN not in out


async def test_missing_scopes_are_named(env, capsys, monkeypatch):
    narrow = SlackEmulator(bot_token=BOT_TOKEN, scopes=("commands", "chat:write"))
    await narrow.start()
    monkeypatch.setenv("SLACK_API_URL", narrow.api_url)
    try:
        code, out = await _doctor(capsys)
    finally:
        await narrow.stop()
    assert code == 1
    assert "missing chat:write.public, channels:manage" in out and "reinstall the app" in out


async def test_the_report_opens_with_the_version_and_each_request_says_who_sent_it(env, capsys, rollback_env):
    await upgrade_async(env["DATABASE_URL"])
    _, out = await _doctor(capsys)
    assert out.splitlines()[0] == f"chatops {VERSION} on Python {platform.python_version()}"
    calls = rollback_env.railway.calls
    assert calls and {c.user_agent for c in calls} == {USER_AGENT}
    probes = list(rollback_env.target.requests)
    assert probes and {r.headers.get("User-Agent") for r in probes} == {USER_AGENT}
