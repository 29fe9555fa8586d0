"""Keeping one message current without flooding Slack: coalesced edits, at most one per second per
channel, 429s waited out (and re-queued past the client's own retries) without losing the last state,
and summaries that stay within Slack's limits in both languages with no secret in them."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta

import httpx

from bot.common.redact import register_secret
from bot.incidents.people import IncidentPeople
from bot.incidents.policy import WatchSettings
from bot.incidents.render import (
    IncidentView,
    final_summary_message,
    postmortem_markdown,
    postmortem_message,
    summary_message,
)
from bot.render.blocks import MAX_BLOCKS, MAX_UPDATE_TEXT, message_problems
from bot.runtime import build_slack_client
from bot.slack.pacing import SummaryPacer
from bot.store import incidents as store
from bot.store.incidents import Incident
from bot.store.models import Event, utcnow
from tests.conftest import bot_settings, eventually
from tests.test_incidents_outage import texts

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"

[incidents]
channel = "C0INCIDENTS"

[monitor]
enabled = false
"""


class State:
    """What the message should say now; the pacer renders it when it sends."""

    def __init__(self) -> None:
        self.version = 0
        self.renders = 0

    async def render(self) -> tuple[str, list[dict]]:
        self.renders += 1
        text = f"state {self.version}"
        return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


async def posted(client, channel: str = "C0GENERAL") -> str:
    return (await client.chat_postMessage(channel=channel, text="state 0"))["ts"]


async def test_a_burst_becomes_few_edits_at_most_one_per_second(slack, sqlite_url):
    client = build_slack_client(bot_settings(slack.url, sqlite_url))
    ts = await posted(client)
    pacer, state = SummaryPacer(client, min_interval=1.0), State()
    started = time.monotonic()
    for _ in range(30):
        state.version += 1
        pacer.request("C0GENERAL", ts, state.render)
        await asyncio.sleep(0.05)  # 30 changes over 1.5 s (longer on a busy machine)
    await pacer.idle()
    lasted = time.monotonic() - started
    edits = slack.calls_to("chat.update")
    # The first change at once, then at most one edit per second of the burst as it was measured here
    # (2 or 3 when it takes its 1.5 s): far fewer than the 30 changes.
    assert 2 <= len(edits) <= 1 + lasted // 0.95, (len(edits), lasted)
    assert all(b.time - a.time >= 0.95 for a, b in itertools.pairwise(edits))
    assert slack.message("C0GENERAL", ts)["text"] == "state 30"  # the latest state, not an older one


async def test_rate_limited_past_the_client_retries_the_update_is_not_lost(slack, sqlite_url):
    client = build_slack_client(bot_settings(slack.url, sqlite_url))  # the bot's client: 3 retries on 429
    ts = await posted(client)
    pacer, state = SummaryPacer(client, min_interval=0.1), State()
    slack.rate_limit("chat.update", retry_after=1, count=4)
    state.version = 1
    pacer.request("C0GENERAL", ts, state.render)
    await eventually(lambda: len(slack.calls_to("chat.update")) >= 2, timeout=30)
    state.version = 2  # changes while Slack keeps saying 429
    pacer.request("C0GENERAL", ts, state.render)
    await pacer.idle(timeout=20)
    calls = slack.calls_to("chat.update")
    assert [c.status for c in calls] == [429, 429, 429, 429, 200]
    assert all(b.time - a.time >= 1.0 for a, b in itertools.pairwise(calls))  # Retry-After honoured
    assert slack.message("C0GENERAL", ts)["text"] == "state 2"


async def test_incident_summary_survives_429_and_coalesces_events(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    incidents = bot.chatops.incidents
    incidents.playbook_runner = None
    incidents.pacer.min_interval = 0.5
    async with httpx.AsyncClient(timeout=10) as http:
        req = signer.slash_command("/incident", "open backend checkout returns 502", user_id="U0ANA",
                                   channel_id="C0GENERAL", response_url=slack.response_url())
        assert (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code == 200
    inc = await eventually(lambda: _with_summary(bot), timeout=30)
    await incidents.pacer.idle()
    before = len(slack.calls_to("chat.update"))
    slack.rate_limit("chat.update", retry_after=1, count=1)
    for n in range(20):
        await incidents.add_note(inc.id, "U0ANA", "note", f"observation {n}")
    await incidents.pacer.idle(timeout=20)
    updates = slack.calls_to("chat.update")[before:]
    assert updates[0].status == 429 and len(updates) <= 1 + 3  # a couple of coalesced edits, not twenty
    summary = slack.message(inc.channel_id, inc.summary_ts)
    assert "21 events" in texts(summary)  # declared and the 20 notes: the last state got through


async def test_an_overdue_update_reminds_the_commander_once(make_bot, slack, signer):
    """"Next update by" passes with no update: one reminder in the incident's channel mentioning the
    commander, however many replicas look at once (the database decides)."""
    bot = await make_bot(SERVICES)
    incidents = bot.chatops.incidents
    incidents.playbook_runner = None
    async with httpx.AsyncClient(timeout=10) as http:
        req = signer.slash_command("/incident", "open backend slow checkout", user_id="U0ANA",
                                   channel_id="C0GENERAL", response_url=slack.response_url())
        await http.post(bot.slack_url, content=req.body, headers=req.headers)
    inc = await eventually(lambda: _with_summary(bot), timeout=30)

    def reminders() -> list[dict]:
        return [m for m in slack.messages(inc.channel_id) if "next update was due" in m["text"]]

    await bot.chatops.people.remind_due()
    assert reminders() == []  # not due yet
    quiet = await store.set_fields(bot.rt.store, inc.id, touch=False, updated_at=utcnow() - timedelta(minutes=31))
    other_replica = IncidentPeople(bot.rt, incidents)
    await asyncio.gather(bot.chatops.people.remind_due(), other_replica.remind_due())  # SEV2: every 30 minutes
    [reminder] = reminders()
    assert "<@U0ANA>" in reminder["text"] and "Next update by" in reminder["text"]  # the commander, by mention
    assert reminder.get("thread_ts") is None  # in the incident's own channel, where people look
    kinds = [e.kind for e in await store.timeline(bot.rt.store, inc.id)]
    assert kinds.count("update_reminder") == 1
    assert (await store.get(bot.rt.store, inc.id)).updated_at > quiet.updated_at  # next one a cadence later
    await bot.chatops.people.remind_due()
    assert len(reminders()) == 1


async def _with_summary(bot):
    inc = await store.open_for_service(bot.rt.store, "backend")
    return inc if inc and inc.summary_ts else None


# ---- limits and secrets ----------------------------------------------------------------------------------


def huge_incident(lang: str) -> tuple[Incident, list[Event]]:
    now = utcnow()
    long = "connection reset by peer while reading the response " * 100 + "Zm9vYmFy" * 60
    inc = Incident(
        id=7, service="backend", title="T" * 200, status="mitigated", severity="sev1", source="monitor", lang=lang,
        symptom="db", impact={"reason": "db_down_now", "verdict": "degraded", "n": 9,
                              "args": {"path": "/api/system/diagnostics", "detail": "database=FAIL " + long}},
        health={"verdict": "degraded", "reason": "endpoint_failed", "n": 9, "since": now.isoformat(),
                "checked_at": now.isoformat(), "args": {"path": "/ready", "detail": long, "failure": "http_5xx",
                                                        "verdict": "down"}},
        deployment={"id": "dep-1", "status": "SUCCESS", "commit_hash": "abc1234", "commit_message": long,
                    "branch": "main", "created_at": (now - timedelta(minutes=10)).isoformat()},
        rollback={"target": {"id": "dep-0"}}, rollback_request_id=None, probe_failed=True,
        findings=[{"playbook": f"p{i}", "verdict": "problem", "cause": long, "remediation": [long, long]}
                  for i in range(30)],
        commander="U0ANA", channel_id="C1", summary_ts="1.1", impact_started_at=now - timedelta(hours=2),
        detected_at=now - timedelta(hours=1), declared_at=now - timedelta(hours=1), mitigated_at=now,
        impact_ended_at=now, resolve_proposed_at=now, cause=long, updated_at=now)
    events = [Event(id=i, at=now - timedelta(seconds=600 - i), subject_type="incident", subject_id="7",
                    kind=("note" if i % 2 else "followup"), actor="U0ANA",
                    data={"text": "DATABASE_URL=postgres://app:hunter2hunter2@db.internal:5432/app " + long})
              for i in range(200)]
    return inc, events


async def test_summaries_stay_within_slack_limits_in_both_languages_and_show_no_secrets():
    register_secret("sk_live_REGISTEREDSECRET")
    for lang in ("en", "es"):
        inc, events = huge_incident(lang)
        events[0].data = {"text": "token sk_live_REGISTEREDSECRET leaked in a log line"}
        view = IncidentView(inc, events, utcnow(), WatchSettings())
        text, blocks = summary_message(view)
        assert message_problems(text, blocks) == [] and len(text) <= MAX_UPDATE_TEXT
        assert len(blocks) <= 20  # the budget for a live card
        inc.status, inc.resolved_at, inc.resolved_by = "resolved", utcnow(), "U0BOB"
        for message in (summary_message(view), final_summary_message(view),
                        postmortem_message(view, postmortem_markdown(view))):
            assert message_problems(*message, max_text=None) == []
            assert len(message[1]) <= MAX_BLOCKS
            body = message[0] + str(message[1])
            assert "hunter2" not in body and "sk_live_REGISTEREDSECRET" not in body
