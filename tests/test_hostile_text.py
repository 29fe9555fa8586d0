"""Hostile text never becomes a mention, a broadcast, a link or broken markup in anything the bot posts.

Each string goes through the commands, buttons and summaries as a person would type it (Slack sends it
escaped; the bot unescapes once and escapes once). Then every message the bot posted, updated or
answered is checked: its ``text`` and every string in its blocks.
"""

from __future__ import annotations

import json
import re

import httpx

from bot.store import actions, incidents
from tests.conftest import eventually

HOSTILE = "<!channel> <!everyone> <@U0EVIL> <https://evil.example|click> R&D `tick` *b* _i_ ~s~ a>b"
# What Slack would turn into a notification, a mention or a disguised link if it reached it unescaped.
LIVE = re.compile(r"<!channel>|<!everyone>|<!here>|<@U0EVIL>|<https://evil")

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"

[incidents]
channel = "C0INCIDENTS"

[monitor]
enabled = false
"""


async def _command(bot, slack, signer, command: str, text: str, channel: str = "C0GENERAL") -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        req = signer.slash_command(command, text, user_id="U0ANA", channel_id=channel,
                                   response_url=slack.response_url(channel=channel))
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


def _strings(value) -> list[str]:
    """The top-level ``text`` and every mrkdwn text in the blocks (plain_text is shown as typed: Slack
    parses no mention, link or markup in it)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            return [value["text"]]
        return [s for k, v in value.items() if k != "text" or not isinstance(v, str) or "type" not in value
                for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _everything_posted(slack, acks: list[dict]) -> list[str]:
    texts = []
    for call in slack.calls:
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            texts += _strings({"text": call.params.get("text"), "blocks": call.params.get("blocks")})
    for response in slack.responses:
        texts += _strings({"text": response.payload.get("text"), "blocks": response.payload.get("blocks")})
    for ack in acks:
        texts += _strings(ack)
    return texts


async def _open_incident(bot):
    async with bot.rt.store.session() as session:
        from sqlalchemy import select

        from bot.store.incidents import Incident
        found = (await session.scalars(select(Incident))).first()
    return found if found and found.summary_ts else None


async def test_hostile_text_through_every_command_and_summary(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    bot.chatops.incidents.playbook_runner = None
    acks = []
    resp = await _command(bot, slack, signer, "/incident", f"open backend {HOSTILE}")
    acks.append(resp.json() if resp.content else {})
    inc = await eventually(lambda: _open_incident(bot), timeout=30)
    channel = inc.channel_id
    for verb in ("note", "followup"):
        resp = await _command(bot, slack, signer, "/incident", f"{verb} {inc.ref} {HOSTILE}", channel=channel)
        acks.append(resp.json() if resp.content else {})
    for command, text in (("/health", HOSTILE), ("/diagnose", f"db {HOSTILE}"), ("/logs", HOSTILE),
                          ("/rollback", HOSTILE), ("/incident", HOSTILE)):
        resp = await _command(bot, slack, signer, command, text)
        acks.append(resp.json() if resp.content else {})
    async with httpx.AsyncClient(timeout=10) as http:
        for action_id, value in (("playbook.action", f"restart:{HOSTILE}:memory"), ("health.recheck", HOSTILE),
                                 ("diagnose.run", f"db:{HOSTILE}")):
            click = signer.block_actions(action_id, value, user_id="U0ANA", channel_id="C0GENERAL",
                                         message_ts="1.0", response_url=slack.response_url("actions"))
            assert (await http.post(bot.slack_url, content=click.body, headers=click.headers)).status_code == 200
    resp = await _command(bot, slack, signer, "/incident", f"resolve {inc.ref} {HOSTILE}", channel=channel)
    acks.append(resp.json() if resp.content else {})
    await eventually(lambda: _resolved(bot, inc.id), timeout=30)
    await bot.rt.jobs.join()
    await bot.rt.responses.drain(10)
    await bot.chatops.incidents.pacer.idle(timeout=10)

    refused = [(c.method, c.response.get("error"), c.response.get("response_metadata")) for c in slack.calls
               if c.method.startswith("chat.") and not c.ok]
    assert refused == []  # the emulator refuses a bare & or a stray < (invalid_blocks / invalid_arguments)
    posted = _everything_posted(slack, acks)
    assert [s for s in posted if LIVE.search(s)] == []
    assert [s for s in posted if "&amp;amp;" in s or "&amp;lt;" in s] == []  # escaped once, not twice
    shown = "\n".join(posted)
    assert "&lt;!channel&gt;" in shown and "R&amp;D" in shown  # the words are there, as words
    stored = await incidents.get(bot.rt.store, inc.id)
    assert HOSTILE in stored.title  # stored as typed, once unescaped
    assert json.dumps(acks)  # every ack was JSON


async def _resolved(bot, incident_id):
    inc = await incidents.get(bot.rt.store, incident_id)
    return inc if inc.status == "resolved" else None


async def test_hostile_reason_in_a_rollback_request(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    resp = await _command(bot, slack, signer, "/rollback", f'backend --reason "{HOSTILE}"', channel="C0OPS")
    assert resp.status_code == 200
    await slack.wait_for(lambda: [c for c in slack.calls_to("chat.postMessage") if c.ok], timeout=30)
    async with bot.rt.store.session() as session:
        from sqlalchemy import select

        from bot.store.models import ActionRequest
        [req] = (await session.scalars(select(ActionRequest))).all()
    assert req.status == actions.PENDING and req.reason == HOSTILE.replace('"', "")
    posted = _everything_posted(slack, [resp.json()])
    assert [s for s in posted if LIVE.search(s)] == []
    assert [c for c in slack.calls if c.method.startswith("chat.") and not c.ok] == []

