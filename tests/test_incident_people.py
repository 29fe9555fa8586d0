"""The people in an incident, through the real bot on loopback: escalation by direct message until
someone acknowledges, the commander and the severity, paging by hand, notes and follow-ups, and
people's own /diagnose and /health runs in the incident's channel joining its record."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from bot.common.errors import ConfigError
from bot.config.services import parse_services
from bot.i18n import format_duration, t
from bot.incidents.people import IncidentPeople
from bot.slack.action_ids import ActionId
from bot.store import Store
from bot.store import incidents as store
from bot.store.migrate import upgrade_async
from bot.store.models import utcnow
from tests.conftest import eventually
from tests.test_incidents_outage import action_ids, click, config, people_workspace, texts

pytest_plugins = ["tests.incident_fixtures"]


@pytest.fixture
async def slack():
    """The workspace with people (names, the on-call group) instead of conftest's empty one."""
    emu = people_workspace()
    await emu.start()
    yield emu
    await emu.stop()

ONCALL = ["U0CARL", "U0DAN", "U0EVE"]


async def start(make_bot, target, railway, *, escalate_after: float = 0.02):
    text = config(target.url).replace('responders = ["U0ANA", "S0ONCALL"]',
                                      f'responders = ["U0ANA", "S0ONCALL"]\noncall = {ONCALL!r}\n'
                                      f"escalate_after_minutes = {escalate_after}".replace("'", '"'))
    bot = await make_bot(text, RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN="railway-test")
    bot.chatops.incidents.playbook_runner = None
    return bot


async def command(bot, slack, signer, text: str, *, user: str, channel: str, name: str = "/incident") -> dict:
    req = signer.slash_command(name, text, user_id=user, channel_id=channel,
                               response_url=slack.response_url(channel=channel))
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(bot.slack_url, content=req.body, headers=req.headers)
    assert resp.status_code == 200
    return resp.json() if resp.content else {}


def dms(slack, user: str) -> list[dict]:
    return slack.messages("D" + user[1:])


async def outage(bot, target):
    target.set_state(db_down_at_runtime=True)
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    return await eventually(lambda: _ready(bot, inc.id), timeout=30)


async def test_an_unacknowledged_sev2_pages_the_oncall_in_order_until_someone_acknowledges(
        make_bot, slack, signer, target, railway):
    bot = await start(make_bot, target, railway, escalate_after=0.02)  # 1.2 s
    inc = await outage(bot, target)
    assert inc.acknowledged_at is None and inc.severity == "sev1"
    await command(bot, slack, signer, "sev 2", user="U0ANA", channel=inc.channel_id)
    await eventually(lambda: _has(bot, inc.id, "severity"), timeout=30)

    first = await eventually(lambda: dms(slack, "U0CARL"), timeout=30)
    assert slack.calls_to("conversations.open")[0].params["users"] == "U0CARL"
    page = first[0]
    assert "INC-1" in page["text"] and "SEV2" in page["text"] and f"<#{inc.channel_id}>" in page["text"]
    assert action_ids(page) == {ActionId.INCIDENT_ACK} and "Current deployment" in texts(page)  # the summary
    second = await eventually(lambda: dms(slack, "U0DAN"), timeout=30)
    assert not dms(slack, "U0EVE")

    # Dan acknowledges from his DM: paging stops, and he leads (nobody was named).
    await click(bot, slack, signer, ActionId.INCIDENT_ACK, str(inc.id), user="U0DAN", channel="D0DAN",
                message=second[0])
    acked = await eventually(lambda: _acknowledged(bot, inc.id), timeout=30)
    assert acked.commander == "U0DAN" and acked.pages_sent == 2
    await store.set_fields(bot.rt.store, inc.id, touch=False, last_paged_at=utcnow() - timedelta(hours=1))
    await bot.chatops.people.escalate_due()
    assert not dms(slack, "U0EVE")
    events = await store.timeline(bot.rt.store, inc.id)
    pages = [e.data["user"] for e in events if e.kind == "paged"]
    assert pages == ["U0CARL", "U0DAN"]
    await eventually(lambda: ActionId.INCIDENT_ACK not in action_ids(slack.message(inc.channel_id, inc.summary_ts))
                     and "Paged <@U0DAN> by direct message (escalation step 2" in
                     texts(slack.message(inc.channel_id, inc.summary_ts)), timeout=30)
    target.set_state(db_down_at_runtime=False)


async def test_each_page_is_sent_once_across_replicas(make_bot, slack, signer, target, railway):
    bot = await start(make_bot, target, railway, escalate_after=600)  # the background loop stays quiet
    inc = await outage(bot, target)
    await store.set_fields(bot.rt.store, inc.id, touch=False, declared_at=utcnow() - timedelta(hours=11))
    replicas = [bot.chatops.people, IncidentPeople(bot.rt, bot.chatops.incidents)]
    await asyncio.gather(*(r.escalate_due() for r in replicas))
    assert len(dms(slack, "U0CARL")) == 1 and not dms(slack, "U0DAN")
    target.set_state(db_down_at_runtime=False)


async def test_lead_page_note_and_followup_by_hand(make_bot, slack, signer, target, railway):
    bot = await start(make_bot, target, railway, escalate_after=600)
    inc = await outage(bot, target)
    channel = inc.channel_id
    before = len(slack.responses)
    await command(bot, slack, signer, "lead <@U0BOB|bob>", user="U0ANA", channel=channel)
    await command(bot, slack, signer, "page <@U0CARL>", user="U0ANA", channel=channel)
    await command(bot, slack, signer, "note the pool size env var is new", user="U0BOB", channel=channel)
    await command(bot, slack, signer, "followup alert on connection errors", user="U0BOB", channel=channel)
    await eventually(lambda: len(slack.responses) >= before + 4, timeout=30)
    said = [r.payload["text"] for r in slack.responses[before:]]
    assert any("<@U0BOB> now leads *INC-1*" in x for x in said)
    assert any("Paged <@U0CARL> about *INC-1*" in x for x in said)
    assert sum("Added to the timeline of *INC-1*" in x for x in said) == 2
    led = await store.get(bot.rt.store, inc.id)
    assert led.commander == "U0BOB" and led.acknowledged_at is not None  # naming a commander acknowledges
    assert dms(slack, "U0CARL") and action_ids(dms(slack, "U0CARL")[0]) == {ActionId.INCIDENT_ACK}
    events = {e.kind: e for e in await store.timeline(bot.rt.store, inc.id)}
    assert events["commander"].data["user"] == "U0BOB" and events["paged"].actor == "U0ANA"
    assert events["note"].data["text"] == "the pool size env var is new"
    assert events["followup"].data["text"] == "alert on connection errors"
    # The four commands run at once, so a summary may show the page before the lead; the last shows both.
    await eventually(lambda: all(_summary_with(slack, inc, words) for words in (
        "Paged <@U0CARL> by direct message", "IC <@U0BOB>", "<@U0BOB> leads the incident")), timeout=30)
    slack.fail("conversations.open", "user_disabled")  # a page Slack refuses is said, and recorded
    before = len(slack.responses)
    await command(bot, slack, signer, "page <@U0DAN>", user="U0ANA", channel=channel)
    await eventually(lambda: any("Could not page <@U0DAN>" in r.payload.get("text", "")
                                 for r in slack.responses[before:]), timeout=30)
    failed = await eventually(lambda: _event(bot, inc.id, "page_failed"), timeout=30)
    assert failed.data == {"user": "U0DAN", "error": "user_disabled"}
    bad = await command(bot, slack, signer, "lead @bob", user="U0ANA", channel=channel)
    assert "Name one person" in bad["text"]
    bad = await command(bot, slack, signer, "sev 5", user="U0ANA", channel=channel)
    assert "1, 2 or 3" in bad["text"]
    target.set_state(db_down_at_runtime=False)


async def test_incident_answers_each_person_in_their_language(make_bot, slack, signer, target, railway):
    slack.workspace.users["U0ANA"]["locale"] = "es-ES"
    bot = await start(make_bot, target, railway, escalate_after=600)
    inc = await outage(bot, target)
    before = len(slack.responses)
    await command(bot, slack, signer, "note probando", user="U0ANA", channel=inc.channel_id)
    await eventually(lambda: any("Agregado a la línea de tiempo de *INC-1*" in r.payload.get("text", "")
                                 for r in slack.responses[before:]), timeout=30)
    bad = await command(bot, slack, signer, "sev 9", user="U0ANA", channel=inc.channel_id)  # her locale is known now
    assert "Da la severidad como 1, 2 o 3" in bad["text"]
    assert "Timeline" in texts(slack.message(inc.channel_id, inc.summary_ts))  # the incident stays in English
    target.set_state(db_down_at_runtime=False)


async def test_diagnose_and_health_in_the_incident_channel_join_its_record(make_bot, slack, signer, target,
                                                                           railway):
    bot = await start(make_bot, target, railway, escalate_after=600)
    inc = await outage(bot, target)
    await command(bot, slack, signer, "db backend", user="U0ANA", channel=inc.channel_id, name="/diagnose")
    checked = await eventually(lambda: _event(bot, inc.id, "checked"), timeout=30)
    assert checked.actor == "U0ANA" and checked.data["check"] == "diagnose" and checked.data["names"] == "db"
    stored = await store.get(bot.rt.store, inc.id)
    assert any(f.get("by") == "U0ANA" and f["playbook"] == "db" for f in stored.findings)
    await eventually(lambda: _summary_with(slack, inc, "<@U0ANA>'s /diagnose"), timeout=30)

    # /health there, then its Re-check button: each verdict goes on the timeline, by whom.
    await command(bot, slack, signer, "backend", user="U0BOB", channel=inc.channel_id, name="/health")
    report = await eventually(lambda: next((m for m in slack.messages(inc.channel_id)
                                            if ActionId.HEALTH_RECHECK in action_ids(m)), None), timeout=30)
    await click(bot, slack, signer, ActionId.HEALTH_RECHECK, "backend", user="U0CARL", channel=inc.channel_id,
                message=report)
    health = await eventually(lambda: _checks(bot, inc.id, "health", 2), timeout=30)
    assert [e.actor for e in health] == ["U0BOB", "U0CARL"] and health[0].data["verdict"] != "healthy"
    await eventually(lambda: _summary_with(slack, inc, "Ran /health:"), timeout=30)

    # The same command elsewhere is not the incident's business.
    await command(bot, slack, signer, "backend", user="U0BOB", channel="C0GENERAL", name="/health")
    await eventually(lambda: any(ActionId.HEALTH_RECHECK in action_ids(m) for m in slack.messages("C0GENERAL")),
                     timeout=30)
    assert len(await _checks(bot, inc.id, "health", 0)) == 2
    target.set_state(db_down_at_runtime=False)


def test_oncall_is_validated_strictly():
    ok = parse_services('[incidents]\noncall = ["U0CARL", "W0DAN"]\nescalate_after_minutes = 0.5\n')
    assert ok.incidents.oncall == ["U0CARL", "W0DAN"] and ok.incidents.escalate_after_minutes == 0.5
    assert parse_services("").incidents.escalate_after_minutes == 5
    for bad, words in (('oncall = ["S0GROUP"]', "not a Slack user id"), ('oncall = ["U0A", "U0A"]', "twice"),
                       ("escalate_after_minutes = 0", "greater than 0"), ('on_call = ["U0A"]', "on_call")):
        with pytest.raises(ConfigError) as caught:
            parse_services(f"[incidents]\n{bad}\n")
        assert words in str(caught.value)


async def _ready(bot, incident_id):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.summary_ts else None


async def _has(bot, incident_id, kind):
    return any(e.kind == kind for e in await store.timeline(bot.rt.store, incident_id))


async def _event(bot, incident_id, kind):
    return next((e for e in await store.timeline(bot.rt.store, incident_id) if e.kind == kind), None)


async def _checks(bot, incident_id, check, at_least):
    found = [e for e in await store.timeline(bot.rt.store, incident_id)
             if e.kind == "checked" and e.data.get("check") == check]
    return found if len(found) >= at_least else None


async def _acknowledged(bot, incident_id):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.acknowledged_at else None


def _summary_with(slack, inc, words: str) -> str | None:
    body = texts(slack.message(inc.channel_id, inc.summary_ts))
    return body if words in body else None


def test_intervals_under_a_second_are_written_as_such():
    assert [format_duration(x) for x in (0.15, 0.0004, 0, 1, 90)] == ["150 ms", "1 ms", "0 s", "1 s", "1 min 30 s"]
    line = t("incident.detection.monitor", "es", n=3, interval=format_duration(0.5, "es"))
    assert "cada 500 ms" in line


async def test_pages_and_reminders_are_claimed_once_on_postgres(pg_url):
    """Two replicas (two engines) racing on PostgreSQL: one page per step, one reminder per overdue update,
    and no page once someone has acknowledged."""
    await upgrade_async(pg_url)
    one, two = Store(pg_url), Store(pg_url)
    try:
        now = utcnow()
        opened = await store.open_incident(one, service="backend", title="db down", severity="sev2", source="monitor",
                                           lang="en", impact={"reason": "manual", "args": {}, "n": 0},
                                           impact_started_at=now, detected_at=now)
        iid = opened.incident.id
        pages = await asyncio.gather(*(store.claim_page(s, iid, sent=0, user="U0CARL") for s in (one, two) * 3))
        assert sum(p.won for p in pages) == 1
        await store.set_fields(one, iid, touch=False, updated_at=now - timedelta(hours=1))
        quiet_since = utcnow() - timedelta(minutes=30)
        reminders = await asyncio.gather(*(store.claim_reminder(s, iid, severity="sev2", quiet_since=quiet_since)
                                           for s in (one, two) * 3))
        assert sum(r.won for r in reminders) == 1
        acked = await store.acknowledge(two, iid, "U0DAN")
        assert acked.won and acked.incident.commander == "U0DAN"
        assert not (await store.claim_page(one, iid, sent=1, user="U0DAN")).won  # acknowledged: paging stops
        kinds = [e.kind for e in await store.timeline(one, iid)]
        assert (kinds.count("paged"), kinds.count("update_reminder"), kinds.count("acknowledged")) == (1, 1, 1)
    finally:
        await one.dispose()
        await two.dispose()
