"""The recorded real backend (real-backend-observed.md), replayed through the target and Railway
emulators: for each scenario the verdict and cause of the record's "right" column.

The fixtures (``tests/real_backend.py``) are the backend's own lines and answers, written down from
the record; ``test_the_fixtures_are_what_the_backend_printed`` keeps them faithful to it.
"""

from __future__ import annotations

import httpx

from bot.common.identity import USER_AGENT, correlation_id
from bot.slack.action_ids import ActionId
from bot.store import actions
from tests import real_backend as real
from tests.conftest import eventually
from tests.rollback_env import DEFAULT_TARGET
from tests.shared import shared_path

CHANNEL = "C0OPS"


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

    done = await eventually(finished, timeout=20)
    assert (done.status, done.verdict) == (actions.SUCCEEDED, "healthy"), done.detail
    assert "“✅ LISTENING OK”" in done.detail or "“[STARTUP] Listening on port 8080”" in done.detail
    assert done.detail.count("Server running on port") == 1
    assert "4 line(s) caused by the bot's own probes were not counted" in done.detail
    # The bot's probes never asked for the route that needs auth (no CHATOPS_HEALTH_AUTH here).
    assert rollback_env.target.requests_to("/api/dashboard/stats") == []
    assert {r.headers.get("User-Agent") for r in rollback_env.target.requests} == {USER_AGENT}
