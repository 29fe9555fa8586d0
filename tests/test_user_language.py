"""What only one person sees is in their Slack locale, even in an English channel; the channel's posts stay English."""

from __future__ import annotations

import json

import httpx

from tests.conftest import eventually

CHANNEL = "C0OPS"


async def _post(bot, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def test_a_spanish_user_gets_spanish_ephemerals_in_an_english_channel(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    # A refusal decided after the ack: the person's locale is looked up (users.info) before answering.
    await _post(bot, signer.slash_command("/rollback", "backend 2b8e4d3c-8f5a-4eab-9d4c-a3f6e9b2c7d3",
                                          user_id="U0ESP", channel_id=CHANNEL,
                                          response_url=slack.response_url(channel=CHANNEL)))
    refusal = await eventually(lambda: slack.responses or None)
    assert "No se puede hacer rollback" in refusal[0].payload["text"]
    assert any(c.params.get("include_locale") in (True, "true", "1") for c in slack.calls_to("users.info"))

    # Now known: even the immediate ack of a bad command is in Spanish.
    resp = await _post(bot, signer.slash_command("/health", "nosuch", user_id="U0ESP", channel_id=CHANNEL,
                                                 response_url=slack.response_url(channel=CHANNEL)))
    assert "No conozco el servicio" in resp.json()["text"]

    # An English user in the same channel, and what the channel sees, stay English.
    resp = await _post(bot, signer.slash_command("/health", "nosuch", user_id="U0ENG", channel_id=CHANNEL,
                                                 response_url=slack.response_url(channel=CHANNEL)))
    assert "I don't know the service" in resp.json()["text"]
    await _post(bot, signer.slash_command("/health", "backend", user_id="U0ESP", channel_id=CHANNEL,
                                          response_url=slack.response_url(channel=CHANNEL)))
    report = await eventually(lambda: [r for r in slack.responses if r.payload.get("response_type") == "in_channel"]
                              or None)
    assert "BACKEND" in json.dumps(report[0].payload["blocks"]).upper() and "SANO" not in report[0].payload["text"]


async def test_a_spanish_channel_gets_spanish_posts(make_bot, slack, signer, rollback_env):
    config = rollback_env.config() + f'\n[i18n]\nlanguage = "en"\nchannels = {{ {CHANNEL} = "es" }}\n'
    bot = await make_bot(config, **rollback_env.settings())
    await _post(bot, signer.slash_command("/health", "backend", user_id="U0ENG", channel_id=CHANNEL,
                                          response_url=slack.response_url(channel=CHANNEL)))
    report = await eventually(lambda: [r for r in slack.responses if r.payload.get("response_type") == "in_channel"]
                              or None)
    assert "SANO" in json.dumps(report[0].payload["blocks"], ensure_ascii=False).upper()
