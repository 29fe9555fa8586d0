"""/diagnose through the real HTTP path: usage errors, findings posted in the channel, the Diagnose button."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.slack.action_ids import ActionId
from tests.conftest import eventually

CHANNEL = "C0OPS"


async def _post(bot, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


@pytest.mark.parametrize(("text", "expected"), [
    ("", "Usage"), ("frobnicate backend", "no playbook `frobnicate`"), ("db nosuch", "don't know the service"),
    ("db backend extra", "Usage"),
])
async def test_usage_errors_are_ephemeral_and_run_nothing(make_bot, slack, signer, rollback_env, text, expected):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    resp = await _post(bot, signer.slash_command("/diagnose", text, user_id="U0ANA", channel_id=CHANNEL,
                                                 response_url=slack.response_url(channel=CHANNEL)))
    assert resp.json()["response_type"] == "ephemeral" and expected in resp.json()["text"]
    await bot.rt.jobs.join()
    await bot.rt.responses.drain(10)  # the answers leave after the job, outside the pool
    assert slack.responses == []


async def test_diagnose_all_posts_every_finding_in_the_channel(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    resp = await _post(bot, signer.slash_command("/diagnose", "all backend", user_id="U0ANA", channel_id=CHANNEL,
                                                 response_url=slack.response_url(channel=CHANNEL)))
    assert "Running `all` on `backend`" in resp.json()["text"]
    posted = await eventually(lambda: slack.responses or None, timeout=30)
    payload = posted[0].payload
    assert payload["response_type"] == "in_channel" and payload["text"]
    blocks = json.dumps(payload["blocks"], ensure_ascii=False)
    for name in ("db", "redis", "cors", "jwt", "memory"):
        assert name in blocks.lower()
    assert len(payload["blocks"]) <= 50


async def test_diagnose_redis_runs_the_redis_playbook_and_says_what_it_could_not_check(make_bot, slack, signer,
                                                                                     rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    resp = await _post(bot, signer.slash_command("/diagnose", "redis backend", user_id="U0ANA", channel_id=CHANNEL,
                                                 response_url=slack.response_url(channel=CHANNEL)))
    assert "Running `redis` on `backend`" in resp.json()["text"]
    posted = await eventually(lambda: slack.responses or None, timeout=30)
    blocks = json.dumps(posted[0].payload["blocks"], ensure_ascii=False)
    assert "*Redis* —" in blocks and "Database" not in blocks
    # The services file names no Redis service: the comparison did not run, and the finding says why.
    assert "`redis_service_id` of `backend` is not set in the services file" in blocks


async def test_the_diagnose_button_from_a_health_report_runs_that_playbook(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    req = signer.block_actions(ActionId.DIAGNOSE_RUN.value, "cors:backend", user_id="U0ANA", channel_id=CHANNEL,
                               message_ts="1.0", response_url=slack.response_url("actions", channel=CHANNEL))
    assert (await _post(bot, req)).status_code == 200
    posted = await eventually(lambda: slack.responses or None, timeout=30)
    assert "cors" in json.dumps(posted[0].payload["blocks"]).lower()
