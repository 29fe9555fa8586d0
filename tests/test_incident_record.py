"""One incident record, from detection to postmortem, through the real bot on loopback (signed Slack
requests, the Slack, Railway and target emulators).

The database behind the backend goes down and the monitor opens INC-1. Ana types ``/rollback`` in the
incident's channel; Bob rejects it, then approves her second request; the rollback runs on Railway and is
verified healthy. Every step is on the incident's timeline, with the same words in the pinned summary,
the final summary and the postmortem; the summary shows the deployment serving now and offers a rollback
only while one could help; the mitigation (and TTM) belong to the rollback and name who asked and who
approved.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from bot.slack.action_ids import ActionId
from bot.store import actions
from bot.store import incidents as store
from tests.conftest import eventually
from tests.test_incidents_outage import ScriptedPlaybooks, action_ids, click, people_workspace, start, texts

pytest_plugins = ["tests.incident_fixtures"]


@pytest.fixture
async def slack():
    """The workspace with people (names, the on-call group) instead of conftest's empty one."""
    emu = people_workspace()
    await emu.start()
    yield emu
    await emu.stop()


async def command(bot, slack, signer, name: str, text: str, *, user: str, channel: str) -> dict:
    req = signer.slash_command(name, text, user_id=user, channel_id=channel,
                               response_url=slack.response_url(channel=channel))
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(bot.slack_url, content=req.body, headers=req.headers)
    assert resp.status_code == 200
    return resp.json() if resp.content else {}


def request_message(slack, channel: str, after: int = 0) -> dict | None:
    """The newest pending change request posted in ``channel`` (its Approve button)."""
    found = [m for m in slack.messages(channel)[after:] if ActionId.ROLLBACK_APPROVE in action_ids(m)]
    return found[-1] if found else None


async def kinds(bot, incident_id: int) -> list[str]:
    return [e.kind for e in await store.timeline(bot.rt.store, incident_id)]


async def test_a_rollback_typed_in_the_incident_channel_joins_the_incident(make_bot, slack, signer, target, railway):
    bot = await start(make_bot, target, railway, ScriptedPlaybooks(), recovery=0.6,
                      CHATOPS_FOLLOW_POLL_SECONDS=0.05)
    target.set_state(db_down_at_runtime=True)
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    inc = await eventually(lambda: _ready(bot, inc.id), timeout=30)
    channel = inc.channel_id

    def summary() -> dict:
        return slack.message(channel, inc.summary_ts)

    await eventually(lambda: "dep-old" in texts(summary()) and "ECONNREFUSED" in texts(summary()), timeout=30)
    assert {ActionId.INCIDENT_ROLLBACK, ActionId.INCIDENT_ACK} <= action_ids(summary())

    # Ana asks with /rollback in the incident's channel; while it is pending the summary offers no second one.
    await command(bot, slack, signer, "/rollback", 'backend --reason "pool errors since dep-cur"', user="U0ANA",
                  channel=channel)
    first = await eventually(lambda: request_message(slack, channel), timeout=30)
    await eventually(lambda: ActionId.INCIDENT_ROLLBACK not in action_ids(summary())
                     and "pending" in texts(summary()), timeout=30)
    req_id = next(e["value"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == ActionId.ROLLBACK_APPROVE)
    assert (await actions.get(bot.rt.store, req_id)).incident_id == str(inc.id)  # linked, though typed by hand

    # Bob (the approver) rejects it: on the timeline with who, and the Request rollback button is back.
    await click(bot, slack, signer, ActionId.ROLLBACK_REJECT, req_id, user="U0BOB", channel=channel, message=first)
    await eventually(lambda: _has(bot, inc.id, "change_rejected"), timeout=30)
    # One render may bring the button back before the one that adds the rejection to the timeline.
    await eventually(lambda: ActionId.INCIDENT_ROLLBACK in action_ids(summary())
                     and "<@U0BOB> · Rollback to dep-old (commit 1111111) rejected" in texts(summary()), timeout=30)

    # Asked again, approved by Bob: the rollback runs, and the service recovers only once it is live.
    seen = len(slack.messages(channel))
    await command(bot, slack, signer, "/rollback", "backend", user="U0ANA", channel=channel)
    second = await eventually(lambda: request_message(slack, channel, seen), timeout=30)
    req_id = next(e["value"] for b in second["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == ActionId.ROLLBACK_APPROVE)
    await click(bot, slack, signer, ActionId.ROLLBACK_APPROVE, req_id, user="U0BOB", channel=channel, message=second)
    await eventually(lambda: _status_not(bot, req_id, "pending"), timeout=30)
    target.set_state(db_down_at_runtime=False)  # the rollback fixes it
    done = await eventually(lambda: _finished(bot, req_id), timeout=30)
    assert (done.status, done.verdict, done.decided_by) == ("succeeded", "healthy", "U0BOB")
    new_deployment = done.new_deployment_id
    # The mitigation is the rollback's: attributed, and TTM measured to its verification (even when the
    # probes saw the service recover a moment before the verification reported).
    await eventually(lambda: _credited(bot, inc.id), timeout=30)
    mitigated = await store.get(bot.rt.store, inc.id)
    assert mitigated.status == "mitigated"
    events = await store.timeline(bot.rt.store, inc.id)
    [mitigation] = [e for e in events if e.kind == "mitigated"]
    assert mitigation.data["how"] == "change" and mitigation.actor == "U0BOB"
    assert (mitigation.data["requested_by"], mitigation.data["approved_by"]) == ("U0ANA", "U0BOB")
    assert mitigated.mitigated_at == datetime.fromisoformat(mitigation.data["verified_at"])
    order = [e.kind for e in events if e.kind.startswith("change_")]
    assert order == ["change_requested", "change_rejected", "change_requested", "change_approved",
                     "change_executed", "change_verified"]
    verified = next(e for e in events if e.kind == "change_verified")
    assert mitigation.at == verified.at == mitigated.mitigated_at  # TTM runs to the verification

    # The pinned summary follows the truth: the deployment serving now, who approved it, no rollback offer,
    # the findings from before the rollback marked as such.
    body = await eventually(lambda: _summary_with(summary(), "Mitigated", "live since the rollback"), timeout=30)
    assert "*Current deployment*" in body and "approved by <@U0BOB>" in body and "`1111111`" in body
    assert ActionId.INCIDENT_ROLLBACK not in action_ids(summary())
    assert "may no longer hold" in body
    assert f"Rollback to dep-old (commit 1111111) executed: Railway deployment {new_deployment} is live" in body

    # Resolved: the final summary and the postmortem say the same, by mention and by name.
    proposal = await eventually(lambda: next((m for m in slack.messages(channel)
                                              if ActionId.INCIDENT_RESOLVE in action_ids(m)), None), timeout=30)
    await click(bot, slack, signer, ActionId.INCIDENT_RESOLVE, str(inc.id), user="U0ANA", channel=channel,
                message=proposal)
    final = await eventually(lambda: next((m for m in slack.messages(channel) if "Time to detect" in texts(m)),
                                          None), timeout=30)
    final_text = texts(final)
    assert ("*Mitigation:* Mitigated by rolling back to dep-old (1111111), requested by <@U0ANA>, "
            "approved by <@U0BOB>, verified healthy at <!date^") in final_text
    assert "<@U0BOB> · Rollback to dep-old (commit 1111111) approved" in final_text
    postmortem = await eventually(lambda: next((m for m in slack.messages(channel) if "# Postmortem" in texts(m)),
                                               None), timeout=30)
    draft = texts(postmortem)
    assert ("Mitigated by rolling back to dep-old (1111111), requested by Ana Pérez, approved by Bob Stone, "
            "verified healthy at") in draft
    assert "Bob Stone: Rollback to dep-old (commit 1111111) approved" in draft
    assert f"Railway deployment {new_deployment} is live" in draft and f"`{new_deployment}`" in draft


async def test_a_change_offered_elsewhere_joins_the_open_incident(make_bot, slack, signer, target, railway):
    """A playbook's restart offer clicked in another channel is still the incident's business."""
    bot = await start(make_bot, target, railway)
    target.set_state(db_down_at_runtime=True)
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    inc = await eventually(lambda: _ready(bot, inc.id), timeout=30)
    ts = slack.add_message("C0GENERAL", "diagnosis", user="U0BOT")
    await click(bot, slack, signer, ActionId.PLAYBOOK_ACTION, "restart:backend:db", user="U0ANA",
                channel="C0GENERAL", message=slack.message("C0GENERAL", ts))
    requested = await eventually(lambda: _event(bot, inc.id, "change_requested"), timeout=30)
    assert (requested.actor, requested.data["action"], requested.data["target"]) == ("U0ANA", "restart", "dep-cur")
    await eventually(lambda: "Restart request" in texts(slack.message(inc.channel_id, inc.summary_ts)), timeout=30)
    target.set_state(db_down_at_runtime=False)


async def _ready(bot, incident_id):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.summary_ts else None


async def _has(bot, incident_id, kind):
    return kind in await kinds(bot, incident_id)


async def _event(bot, incident_id, kind):
    return next((e for e in await store.timeline(bot.rt.store, incident_id) if e.kind == kind), None)


async def _status_not(bot, request_id, status):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status != status else None


async def _finished(bot, request_id):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


def _summary_with(message: dict, *words: str) -> str | None:
    body = texts(message)
    return body if all(w in body for w in words) else None


async def _credited(bot, incident_id):
    mitigation = await _event(bot, incident_id, "mitigated")
    return mitigation if mitigation and mitigation.data.get("how") == "change" else None


async def _in_status(bot, incident_id, status):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.status == status else None
