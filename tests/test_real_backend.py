"""The recorded real backend (real-backend-observed.md), replayed through the target and Railway
emulators: for each scenario the verdict and cause of the record's "right" column.

The fixtures (``tests/real_backend.py``) are the backend's own lines and answers, written down from
the record; ``test_the_fixtures_are_what_the_backend_printed`` keeps them faithful to it.
"""

from __future__ import annotations

import argparse
import json

import httpx
import jsonschema
import pytest

from bot.cli import diagnose as diagnose_cli
from bot.cli import health as health_cli
from bot.common.identity import USER_AGENT, correlation_id
from bot.slack.action_ids import ActionId
from bot.store import actions
from playbooks.registry import run_playbooks
from tests import real_backend as real
from tests.conftest import eventually
from tests.playbook_env import environment
from tests.rollback_env import DEFAULT_TARGET
from tests.shared import shared_path
from tests.test_diagnose_cli import SCHEMA, _configure

CHANNEL = "C0OPS"


@pytest.mark.shared
def test_the_fixtures_are_what_the_backend_printed() -> None:
    record = shared_path("reference/real-backend-observed.md").read_text(encoding="utf-8")
    quoted = [*real.HEALTHY_BOOT, *real.own_probe_lines(), *real.redis_refused_block(),
              real.DB_MISSING_AT_BOOT[0], real.DB_MISSING_AT_BOOT[-1], *real.SHORT_SECRETS]
    for line in quoted:
        assert line.strip() in record, line
    assert '"errorMessage":"CORS blocked: <origin> not in allowlist"' in record
    assert '"statusCode":500' in real.cors_blocked_line("https://x.example")


# ---- a healthy rollback: the bot's own 401 lines are not the service's errors ----------------------


async def test_verification_of_a_healthy_rollback_whose_logs_hold_only_the_bots_own_401_lines(
        make_bot, slack, signer, rollback_env) -> None:
    world = rollback_env.railway.world
    own = [*real.own_probe_lines(), *real.own_probe_lines(correlation_id("probe"), USER_AGENT)]
    world.set_logs(DEFAULT_TARGET, [{"timestamp": f"+{95 + i * 0.1:.1f}s", "message": m, "severity": "info"}
                                    for i, m in enumerate([*real.HEALTHY_BOOT, *own])])
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    async with httpx.AsyncClient(timeout=10) as http:
        req = signer.slash_command("/rollback", 'backend --reason "verify"', user_id="U0ANA", channel_id=CHANNEL,
                                   response_url=slack.response_url(channel=CHANNEL))
        assert (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code == 200
        call = await slack.wait_for(lambda: slack.calls_to("chat.postMessage") or None)
        message = slack.message(CHANNEL, call[0].response["ts"])
        value = next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
        click = signer.block_actions(ActionId.ROLLBACK_APPROVE.value, value, user_id="U0LEO", channel_id=CHANNEL,
                                     message_ts=message["ts"], message=message,
                                     response_url=slack.response_url("actions", channel=CHANNEL,
                                                                     message_ts=message["ts"]))
        assert (await http.post(bot.slack_url, content=click.body, headers=click.headers)).status_code == 200

    async def finished():
        found = await actions.get(bot.rt.store, value)
        return found if found.status in actions.FINAL else None

    done = await eventually(finished, timeout=30)
    assert (done.status, done.verdict) == (actions.SUCCEEDED, "healthy"), done.detail
    assert "“✅ LISTENING OK”" in done.detail or "“[STARTUP] Listening on port 8080”" in done.detail
    assert done.detail.count("Server running on port") == 1
    assert "4 line(s) caused by the bot's own probes were not counted" in done.detail
    # The bot's probes never asked for the route that needs auth (no CHATOPS_HEALTH_AUTH here).
    assert rollback_env.target.requests_to("/api/dashboard/stats") == []
    assert {r.headers.get("User-Agent") for r in rollback_env.target.requests} == {USER_AGENT}


# ---- the seven recorded scenarios, through `chatops health` and `chatops diagnose all --json` -------

BOOTED = [*real.HEALTHY_BOOT, *real.own_probe_lines(), *real.own_probe_lines(correlation_id("probe"), USER_AGENT)]
ELSEWHERE = "postgresql://postgres:not-the-pg-password-0123@127.0.0.1:5439/railway"  # nothing listens there
REDIS_DOWN = "redis://default:redis-pw-for-the-record-0123@127.0.0.1:6390"


def _cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatops")
    sub = parser.add_subparsers(dest="verb", required=True)
    health_cli.register(sub)
    diagnose_cli.register(sub)
    return parser


async def _chatops(capsys, *argv: str) -> tuple[int, str]:
    args = _cli_parser().parse_args(list(argv))
    code = await args.func(args)
    return code, capsys.readouterr().out


async def _health(capsys, *, lang: str = "en") -> tuple[dict, str]:
    """(`chatops health backend --json`'s service, the table's text)."""
    _, out = await _chatops(capsys, "health", "backend", "--json")
    [svc] = json.loads(out)["services"]
    _, table = await _chatops(capsys, "health", "backend", "--lang", lang)
    return svc, table


async def _diagnose_all(capsys) -> dict[str, dict]:
    _, out = await _chatops(capsys, "diagnose", "all", "backend", "--json", "--timeout", "8")
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    return {f["playbook"]: f for f in document["findings"]}


def _verdicts(found: dict[str, dict]) -> dict[str, str]:
    return {name: f["verdict"] for name, f in found.items()}


def _boot_logs(env, messages: list[str]) -> None:
    env.set_logs(messages)


@pytest.fixture(autouse=True)
def _no_health_auth(monkeypatch) -> None:
    monkeypatch.delenv("CHATOPS_HEALTH_AUTH", raising=False)


async def test_healthy_boot_raises_no_alarm_and_offers_no_restart(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        _boot_logs(env, BOOTED)
        _configure(monkeypatch, tmp_path, env)
        svc, table = await _health(capsys)
        found = await _diagnose_all(capsys)
        findings = await run_playbooks("all", env.context(), timeout=8)
    assert (svc["verdict"], svc["reason"]) == ("healthy", "healthy")
    assert "1 not checked: they need auth (CHATOPS_HEALTH_AUTH)" in table
    assert _verdicts(found) == dict.fromkeys(("db", "redis", "cors", "jwt", "memory"), "ok"), found
    assert [a for f in findings for a in f.actions] == []  # no restart offer, nor any other
    assert [f.verdict for f in findings].count("problem") == 0


async def test_healthy_boot_without_railway_access_says_what_it_did_not_check(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        _configure(monkeypatch, tmp_path, env, token=False)
        found = await _diagnose_all(capsys)
    assert "problem" not in _verdicts(found).values(), found
    assert "matches the PostgreSQL service" not in found["db"]["cause"]
    for name in ("db", "redis", "jwt", "memory"):
        assert "not checked: no Railway API credential is configured" in found[name]["cause"], found[name]


async def test_database_missing_at_boot(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        env.set_variables(DATABASE_URL=ELSEWHERE)
        _boot_logs(env, [*real.HEALTHY_BOOT[:4], *real.DB_MISSING_AT_BOOT])
        env.target.set_state(db_down_at_boot=True, db_down_at_runtime=True)
        _configure(monkeypatch, tmp_path, env)
        svc, table = await _health(capsys)
        found = await _diagnose_all(capsys)
    assert (svc["verdict"], svc["reason"]) == ("down", "db_down_now (/api/system/diagnostics: database=FAIL)")
    assert "/ready answers 503" in table and "still says 200" not in table
    assert found["db"]["verdict"] == "problem"
    assert found["db"]["cause"].startswith("`DATABASE_URL` on `backend` points to 127.0.0.1:5439/railway, not to the "
                                           "PostgreSQL service (postgres.railway.internal:5432/railway).")
    assert found["redis"]["verdict"] == "ok"


async def test_database_gone_after_boot_needs_no_redeploy(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        _boot_logs(env, [*BOOTED, "prisma:error Can't reach database server at `postgres.railway.internal:5432`"])
        env.target.set_state(db_down_at_runtime=True)
        _configure(monkeypatch, tmp_path, env)
        svc, table = await _health(capsys)
        found = await _diagnose_all(capsys)
        [db_finding] = await run_playbooks("db", env.context(), timeout=8)
    assert (svc["verdict"], svc["reason"]) == ("down", "db_down_now (/api/system/diagnostics: database=FAIL)")
    assert "/ready still says 200: it is a flag set once at boot" in table
    assert found["db"]["verdict"] == "problem"
    assert found["db"]["cause"].startswith("The backend cannot reach its database right now")
    steps = " ".join(found["db"]["remediation"])
    assert "reconnects by itself" in steps and "edeploy" not in steps.replace("restart or redeploy", "")
    assert db_finding.actions == ()
    assert found["redis"]["verdict"] == "ok"


async def test_short_secrets_boot_and_run_degraded(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        env.set_variables(JWT_SECRET="0123456789", ENCRYPTION_KEY="")
        _boot_logs(env, [*real.HEALTHY_BOOT, *real.SHORT_SECRETS])
        _configure(monkeypatch, tmp_path, env)
        svc, _ = await _health(capsys)
        found = await _diagnose_all(capsys)
        _configure(monkeypatch, tmp_path, env, token=False)
        blind = await _diagnose_all(capsys)
    assert svc["verdict"] == "healthy"  # every endpoint 200: only Railway's variables and logs show it
    assert found["jwt"]["verdict"] == "problem" and found["jwt"]["cause"].startswith(
        "`JWT_SECRET` and `ENCRYPTION_KEY` are both missing or shorter than 32 characters")
    assert blind["jwt"]["verdict"] == "unknown"


async def test_cors_apex_only_while_the_frontend_is_www(monkeypatch, tmp_path, capsys) -> None:
    async with environment(origins=["https://www.example.com"],
                           target_kwargs={"cors_origin": "https://example.com"}) as env:
        env.set_variables(CORS_ORIGIN="https://example.com")
        _configure(monkeypatch, tmp_path, env)
        svc, _ = await _health(capsys)
        found = await _diagnose_all(capsys)
    assert (svc["verdict"], svc["reason"].split(" ")[0]) == ("degraded", "cors_mismatch")
    assert found["cors"]["verdict"] == "problem"
    assert "`https://www.example.com` is not listed; it matches `https://example.com` only by host name" in \
        found["cors"]["cause"]
    assert any("https://www.example.com" in step for step in found["cors"]["remediation"])
    assert _verdicts(found)["db"] == "ok"


async def test_an_origin_not_allowed_at_all(monkeypatch, tmp_path, capsys) -> None:
    async with environment(origins=["https://www.example.com"],
                           target_kwargs={"cors_origin": "https://shop.example.net"}) as env:
        env.set_variables(CORS_ORIGIN="https://shop.example.net")
        _boot_logs(env, [*BOOTED, real.cors_blocked_line("https://www.example.com")])
        _configure(monkeypatch, tmp_path, env)
        svc, _ = await _health(capsys)
        found = await _diagnose_all(capsys)
    assert (svc["verdict"], svc["reason"].split(" ")[0]) == ("degraded", "cors_rejected")
    assert found["cors"]["verdict"] == "problem"
    assert found["cors"]["cause"] == "`https://www.example.com` is not in the backend's allow-list (`CORS_ORIGIN`)."
    assert _verdicts(found)["db"] == "ok" and _verdicts(found)["redis"] == "ok"


async def test_redis_unreachable_is_named_redis_and_the_database_is_fine(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        env.set_variables(REDIS_URL=REDIS_DOWN)
        env.set_variables("Redis", REDIS_URL=REDIS_DOWN)
        env.add_logs([line for _ in range(200) for line in real.redis_refused_block()], step=0.003)
        env.target.set_state(redis_down_at_boot=True)
        _configure(monkeypatch, tmp_path, env)
        svc, table = await _health(capsys)
        found = await _diagnose_all(capsys)
        findings = await run_playbooks("all", env.context(), timeout=8)
    assert (svc["verdict"], svc["reason"].split(" ")[0]) == ("degraded", "redis_down_at_boot")
    assert "The database is not affected." in table
    assert found["db"]["verdict"] == "ok", found["db"]
    assert found["redis"]["verdict"] == "problem"
    assert found["redis"]["cause"].startswith("Redis at 127.0.0.1:6390 cannot be reached: connection refused")
    assert found["memory"]["cause"].startswith("Redis is failing:") and "/diagnose redis backend" in \
        found["memory"]["cause"]
    assert not [a for f in findings for a in f.actions if a.kind == "restart"]
    assert "redis-pw-for-the-record-0123" not in json.dumps(found)
