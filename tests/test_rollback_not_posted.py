"""A rollback request that cannot be posted where it was asked is never left pending and silent.

Slack answers ``channel_not_found`` for a private channel the bot is not in and for a DM between two
people, ``is_archived`` for an archived channel, and sometimes an HTTP 5xx. Each ends with the requester
told, by the command's response_url, what happened and what to do; the request is cancelled (or posted
in the ``[incidents] channel`` with who asked), the audit outcome says so, and asking again is not
refused as "already waiting for approval".
"""

from __future__ import annotations

import json

import httpx
import pytest

from bot.store import actions, audit
from tests.conftest import eventually

PRIVATE = "C0SECRET"


async def _post(url: str, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, content=req.body, headers=req.headers)


async def _rollback(bot, slack, signer, channel: str, user: str = "U0ANA") -> str:
    """Send /rollback from ``channel``; returns what the requester was told by response_url."""
    before = len(slack.responses)
    resp = await _post(bot.slack_url, signer.slash_command("/rollback", "backend", user_id=user, channel_id=channel,
                                                           response_url=slack.response_url(channel=channel)))
    assert resp.status_code == 200 and "Preparing" in resp.json()["text"]
    posts = await slack.wait_for(lambda: slack.responses[before:] or None, timeout=30)
    return json.dumps([p.payload for p in posts], ensure_ascii=False)


async def _requests(bot) -> list:
    async with bot.rt.store.session() as session:
        from sqlalchemy import select

        from bot.store.models import ActionRequest
        return list((await session.scalars(select(ActionRequest).order_by(ActionRequest.created_at))).all())


async def _outcomes(bot) -> list[str]:
    await bot.rt.audit.flush()
    return [r.outcome for r in await audit.entries(bot.rt.store) if r.name == "/rollback"]


async def _settled(bot) -> list[str] | None:
    outcomes = await _outcomes(bot)
    return None if "received" in outcomes else outcomes


def _config(rollback_env, incidents_channel: str | None = None) -> str:
    extra = f'\n[incidents]\nchannel = "{incidents_channel}"\n' if incidents_channel else ""
    return rollback_env.config() + extra


async def _assert_cancelled_and_asked_again(bot, slack, signer, channel: str) -> None:
    [req] = await _requests(bot)
    assert req.status == actions.CANCELLED and req.message_ts is None
    assert await actions.pending_for(bot.rt.store, "backend", "rollback") is None
    assert [e.kind for e in await actions.events(bot.rt.store, req.id)] == ["requested", "cancelled"]
    resp = await _post(bot.slack_url, signer.slash_command("/rollback", "backend", user_id="U0ANA", channel_id=channel,
                                                           response_url=slack.response_url(channel=channel)))
    assert resp.status_code == 200
    await eventually(lambda: _second_request(bot), timeout=30)  # not refused as "already waiting for approval"
    assert "already waiting" not in json.dumps([r.payload for r in slack.responses])


async def _second_request(bot) -> bool:
    return len(await _requests(bot)) == 2


async def test_private_channel_without_the_bot(make_bot, slack, signer, rollback_env):
    slack.workspace.add_channel("secret", channel_id=PRIVATE, is_private=True, members=["U0ANA"])
    bot = await make_bot(_config(rollback_env), **rollback_env.settings())
    told = await _rollback(bot, slack, signer, PRIVATE)
    assert "private channel I'm not in" in told and "/invite <@U0BOT>" in told and "Nothing is pending" in told
    assert slack.messages(PRIVATE) == []
    await _assert_cancelled_and_asked_again(bot, slack, signer, PRIVATE)
    assert (await eventually(lambda: _settled(bot)))[0] == "not_posted:private"


async def test_dm_between_two_people(make_bot, slack, signer, rollback_env):
    dm = slack.workspace.add_dm("U0ANA", "U0BEN")
    bot = await make_bot(_config(rollback_env), **rollback_env.settings())
    told = await _rollback(bot, slack, signer, dm.id)
    assert "direct message I'm not part of" in told and "Nothing is pending" in told
    await _assert_cancelled_and_asked_again(bot, slack, signer, dm.id)
    assert (await eventually(lambda: _settled(bot)))[0] == "not_posted:dm"


@pytest.mark.parametrize("status", [500, 503])
async def test_slack_answering_5xx(make_bot, slack, signer, rollback_env, status):
    bot = await make_bot(_config(rollback_env, "C0INCIDENTS"), **rollback_env.settings())
    slack.server_error("chat.postMessage", status=status)
    told = await _rollback(bot, slack, signer, "C0OPS")
    assert f"http_{status}" in told and "Nothing is pending" in told and "try again" in told
    assert slack.messages("C0INCIDENTS") == []  # Slack is having trouble: no second place is tried
    await _assert_cancelled_and_asked_again(bot, slack, signer, "C0OPS")
    outcomes = await eventually(lambda: _settled(bot), timeout=30)
    assert outcomes == ["not_posted:unavailable", "requested"]  # once Slack is back, it works
    assert any(b["type"] == "actions" for b in slack.messages("C0OPS")[0]["blocks"])


async def test_an_archived_channel(make_bot, slack, signer, rollback_env):
    slack.workspace.archive("C0RANDOM")
    bot = await make_bot(_config(rollback_env), **rollback_env.settings())
    told = await _rollback(bot, slack, signer, "C0RANDOM")
    assert "archived" in told and "Nothing is pending" in told
    await _assert_cancelled_and_asked_again(bot, slack, signer, "C0RANDOM")


async def test_posted_in_the_incidents_channel_when_the_asked_one_is_closed(make_bot, slack, signer, rollback_env):
    slack.workspace.add_channel("secret", channel_id=PRIVATE, is_private=True, members=["U0ANA"])
    bot = await make_bot(_config(rollback_env, "C0INCIDENTS"), **rollback_env.settings())
    told = await _rollback(bot, slack, signer, PRIVATE)
    assert "<#C0INCIDENTS>" in told and "private channel I'm not in" in told
    [request_msg, note] = await slack.wait_for(lambda: len(slack.messages("C0INCIDENTS")) == 2
                                               and slack.messages("C0INCIDENTS"))
    assert any(b["type"] == "actions" for b in request_msg["blocks"])
    assert note["thread_ts"] == request_msg["ts"] and "<@U0ANA> asked for this" in note["text"]
    [req] = await _requests(bot)
    assert (req.status, req.channel_id, req.message_ts) == (actions.PENDING, "C0INCIDENTS", request_msg["ts"])
    assert "posted_elsewhere" in [e.kind for e in await actions.events(bot.rt.store, req.id)]
    assert (await eventually(lambda: _settled(bot))) == ["posted_elsewhere"]


async def test_a_playbook_button_in_a_dm_is_not_left_pending(make_bot, slack, signer, rollback_env):
    dm = slack.workspace.add_dm("U0ANA", "U0BEN")
    bot = await make_bot(_config(rollback_env), **rollback_env.settings())
    click = signer.block_actions("playbook.action", "restart:backend:memory", user_id="U0ANA", channel_id=dm.id,
                                 message_ts="1.0", response_url=slack.response_url("actions", channel=dm.id))
    assert (await _post(bot.slack_url, click)).status_code == 200
    told = await slack.wait_for(lambda: slack.responses or None, timeout=30)
    assert "direct message I'm not part of" in json.dumps(told[0].payload)
    [req] = await _requests(bot)
    assert (req.action, req.status) == ("restart", actions.CANCELLED)
