"""chatops doctor against the emulators: every check passes on a good setup, and each failure says what to do."""

from __future__ import annotations

import platform
from pathlib import Path

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


async def test_socket_mode_checks_the_app_level_token_with_apps_connections_open(env, capsys, monkeypatch):
    await upgrade_async(env["DATABASE_URL"])
    socket = SlackEmulator(bot_token=BOT_TOKEN, app_token="xapp-1-A0-doctor", usergroups={"S0SRE": ["U0MAY"]})
    await socket.start()
    monkeypatch.setenv("SLACK_API_URL", socket.api_url)
    try:
        monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-doctor")
        code, out = await _doctor(capsys, "--socket")
        assert code == 0, out
        assert "✅ The app-level token opens a Socket Mode connection" in out
        monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-revoked")
        code, out = await _doctor(capsys, "--socket")
    finally:
        await socket.stop()
    assert code == 1
    assert "❌ The app-level token opens a Socket Mode connection (apps.connections.open): invalid_auth" in out
    assert "create a new one with connections:write" in out and "xapp-1-A0-revoked" not in out
    assert [c.method for c in socket.calls_to("apps.connections.open")] == ["apps.connections.open"] * 2


@pytest.mark.parametrize(("setup", "error"), [
    (None, ""),
    ("missing", "channel_not_found"),
    ("private", "channel_not_found"),
    ("archived", "is_archived"),
])
async def test_the_incidents_channel_exists_and_the_bot_can_post_there(env, capsys, slack, setup, error):
    await upgrade_async(env["DATABASE_URL"])
    channel = "C0INCIDENTS"
    if setup == "missing":
        channel = "C0NOPE"
    elif setup == "private":
        channel = slack.workspace.add_channel("war-room", is_private=True, members=["U0MAY"]).id
    elif setup == "archived":
        slack.workspace.archive(channel)
    _write_config(env, f'\n[incidents]\nchannel = "{channel}"\n', append=True)
    code, out = await _doctor(capsys)
    line = next(x for x in out.splitlines() if "incidents channel" in x)
    if error:
        assert code == 1 and line.startswith("❌") and line.endswith(error), out
        assert "`/invite @chatops`" in out
    else:
        assert code == 0 and line.startswith("✅"), out


async def test_approver_groups_and_users_must_resolve(env, capsys, rollback_env):
    await upgrade_async(env["DATABASE_URL"])
    code, out = await _doctor(capsys)
    assert "✅ Approver `S0SRE` resolves" in out and "✅ Approver `U0LEO` resolves" in out
    _write_config(env, rollback_env.config(approvers='["S0GONE", "S0SRE"]'))
    code, out = await _doctor(capsys)
    assert code == 1
    assert "❌ Approver `S0GONE` resolves: no_such_subteam" in out and "a user group ID (S…) with members" in out


def _write_config(env: dict, text: str, *, append: bool = False) -> None:
    config = Path(env["CHATOPS_CONFIG"])
    config.write_text((config.read_text(encoding="utf-8") if append else "") + text, encoding="utf-8")
