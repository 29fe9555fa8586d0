"""A scripted outage through the real bot on loopback, with the Slack, target and Railway emulators.

The database behind the backend goes down: the monitor opens exactly one incident (not one per failed
probe), creates its channel, invites the responders, posts and pins the summary, attaches the db
playbook's findings and keeps the summary current. The database comes back: the incident is
mitigated, resolution is proposed, a responder clicks Resolve, and the final summary and the
postmortem draft are posted.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from bot.incidents.policy import pressure_of
from bot.incidents.service import channel_name, slug, with_suffix
from bot.render.blocks import MAX_BLOCKS, message_problems
from bot.slack.action_ids import ActionId
from bot.store import incidents as store
from bot.store.incidents import Incident
from bot.store.models import utcnow
from playbooks.base import Evidence, Finding
from sandbox.emulators.slack import SlackEmulator
from tests.conftest import BOT_TOKEN, eventually
from tests.images import png_facts

pytest_plugins = ["tests.incident_fixtures"]

PROJECT, ENVIRONMENT, SERVICE = "p-0001", "e-0001", "s-0001"
WORLD = {
    "projects": [{"id": PROJECT, "name": "shop", "environments": [{"id": ENVIRONMENT, "name": "production"}],
                  "services": [{"id": SERVICE, "name": "backend"}]}],
    "deployments": [
        {"id": "dep-old", "service": "backend", "status": "SUCCESS", "createdAt": "now-2d",
         "meta": {"commitHash": "1111111aaaa", "commitMessage": "fix: retry the payment webhook", "branch": "main"}},
        {"id": "dep-cur", "service": "backend", "status": "SUCCESS", "createdAt": "now-20m",
         "meta": {"commitHash": "deadbeefcafe", "commitMessage": "feat: read the pool size from env",
                  "branch": "main"}},
    ],
}
CONFIG = """
[[services]]
name = "backend"
url = "{url}"
profile = "ivan-reseller-web"

[services.railway]
project_id = "{project}"
environment_id = "{environment}"
service_id = "{service}"

[incidents]
channel = "C0INCIDENTS"
responders = ["U0ANA", "S0ONCALL"]

[approvals]
approvers = ["U0BOB"]

[monitor]
interval_seconds = 0.15
failures_to_open = 3
successes_to_resolve = 2
recovery_seconds = {recovery}
metrics_interval_seconds = 600
deploy_poll_seconds = 600
summary_interval_seconds = 0.2
"""


def people_workspace() -> SlackEmulator:
    """The workspace with people: the on-call group, and names the postmortem can use."""
    users = {"U0ANA": {"real_name": "Ana Pérez"}, "U0BOB": {"real_name": "Bob Stone"},
             "U0CARL": {"real_name": "Carl Diaz"}}
    return SlackEmulator(bot_token=BOT_TOKEN, users=users, usergroups={"S0ONCALL": ["U0CARL"]},
                         channels={"C0GENERAL": "general", "C0INCIDENTS": "incidents"})


@pytest.fixture
async def slack():
    emu = people_workspace()
    await emu.start()
    yield emu
    await emu.stop()


class ScriptedPlaybooks:
    """The playbook runner the test passes in: the db playbook's answer when the database is down."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    async def __call__(self, service: str, symptom: str | None, lang: str) -> list:
        self.calls.append((service, symptom, lang))
        return [Finding("db", "problem", "PostgreSQL refuses connections: ECONNREFUSED 10.0.0.5:5432",
                        evidence=(Evidence("SELECT 1 through DATABASE_URL", "connection refused", False),),
                        remediation=("Check the Postgres service on Railway and restart it if it is down.",))]


def config(target_url: str, recovery: float = 0.4) -> str:
    return CONFIG.format(url=target_url, project=PROJECT, environment=ENVIRONMENT, service=SERVICE, recovery=recovery)


async def start(make_bot, target, railway, runner=None, recovery: float = 0.4, **settings):
    bot = await make_bot(config(target.url, recovery), RAILWAY_API_URL=railway.graphql_url,
                         RAILWAY_API_TOKEN="railway-test", **settings)
    bot.chatops.incidents.playbook_runner = runner
    return bot


async def incident_count(bot) -> int:
    async with bot.rt.store.session() as session:
        return await session.scalar(select(func.count()).select_from(Incident))


def texts(message: dict) -> str:
    """Everything a person reads in a message: its text and every text inside its blocks."""
    out = [message.get("text", "")]

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(out)


def action_ids(message: dict) -> set[str]:
    return {e.get("action_id") for b in message.get("blocks") or [] if b.get("type") == "actions"
            for e in b.get("elements", [])}


async def click(bot, slack, signer, action_id: str, value: str, *, user: str, channel: str, message: dict):
    req = signer.block_actions(action_id, value, user_id=user, channel_id=channel, message_ts=message["ts"],
                               message=message, response_url=slack.response_url("actions", channel=channel,
                                                                                message_ts=message["ts"]))
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(bot.slack_url, content=req.body, headers=req.headers)
    assert resp.status_code == 200


async def test_database_outage_end_to_end(make_bot, slack, signer, target, railway):
    runner = ScriptedPlaybooks()
    bot = await start(make_bot, target, railway, runner)
    monitor = bot.chatops.monitor
    await eventually(lambda: monitor.ticks >= 3, timeout=30)
    assert await incident_count(bot) == 0  # healthy: nobody paged

    broke_at = utcnow()
    target.set_state(db_down_at_runtime=True)
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    ticks = monitor.ticks
    await eventually(lambda: monitor.ticks >= ticks + 4, timeout=30)
    assert await incident_count(bot) == 1  # one incident, not one per failed probe
    inc = await eventually(lambda: _with_summary(bot, inc.id), timeout=30)

    # Detection lag is the hysteresis: the impact starts at the first failing probe (after the break, not
    # at the last healthy probe) and is detected at a later one (the third), rounds of 0.15 s apart.
    assert broke_at <= inc.impact_started_at
    assert (inc.detected_at - inc.impact_started_at).total_seconds() >= 0.15
    assert (inc.severity, inc.source, inc.symptom) == ("sev1", "monitor", "db")  # the database does not answer: down

    # Its own channel, named by the rules, with the responders (the on-call group expanded) invited.
    created = slack.calls_to("conversations.create")
    assert len(created) == 1
    name = created[0].params["name"]
    assert name.startswith("inc-") and name.endswith("-backend-db-down-now") and len(name) <= 80
    channel = slack.channel(name)
    assert channel["id"] == inc.channel_id
    assert {"U0ANA", "U0CARL"} <= set(channel["members"])

    # The summary is posted and pinned; the incidents channel gets one line pointing at the channel.
    assert inc.summary_ts in slack.pins(inc.channel_id)
    announcements = slack.messages("C0INCIDENTS")
    assert len(announcements) == 1 and f"<#{inc.channel_id}>" in announcements[0]["text"]
    assert "INC-1" in announcements[0]["text"]

    # The db playbook ran for the symptom; its findings, the health and the last deployment reach the summary.
    def summary() -> dict:
        return slack.message(inc.channel_id, inc.summary_ts)

    await eventually(lambda: "ECONNREFUSED" in texts(summary()) and "dep-cur" in texts(summary()), timeout=30)
    assert runner.calls == [("backend", "db", "en")]
    body = texts(summary())
    assert "database=FAIL" in body and "deadbee" in body and "dep-old" in body
    assert ActionId.INCIDENT_ROLLBACK in action_ids(summary())  # rollback offered, approval-gated
    assert [c for c in slack.calls_to("chat.update") if c.params.get("ts") == inc.summary_ts]

    # Recovery: mitigated after two healthy probes, resolution proposed after the recovery window.
    target.set_state(db_down_at_runtime=False)
    proposal = await eventually(lambda: next((m for m in slack.messages(inc.channel_id)
                                              if ActionId.INCIDENT_RESOLVE in action_ids(m)), None), timeout=30)
    mitigated = await store.get(bot.rt.store, inc.id)
    assert mitigated.status == "mitigated" and mitigated.mitigated_at and mitigated.impact_ended_at
    assert sum("mitigated" in m["text"] for m in slack.messages("C0INCIDENTS")) == 1

    await click(bot, slack, signer, ActionId.INCIDENT_RESOLVE, str(inc.id), user="U0ANA", channel=inc.channel_id,
                message=proposal)
    done = await eventually(lambda: _resolved(bot, inc.id), timeout=30)
    assert done.resolved_by == "U0ANA" and done.commander == "U0ANA"

    # The final summary, then the postmortem draft in its thread; the pinned summary shows it resolved.
    final = await eventually(lambda: next((m for m in slack.messages(inc.channel_id)
                                           if "Time to detect" in texts(m)), None), timeout=30)
    assert "Time to mitigate" in texts(final) and "INC-1 resolved" in texts(final)
    postmortem = await eventually(lambda: next((m for m in slack.messages(inc.channel_id)
                                                if "# Postmortem" in texts(m)), None), timeout=30)
    assert postmortem["thread_ts"] == final["ts"]
    draft = texts(postmortem)
    assert "Ana Pérez" in draft and "## Timeline (UTC)" in draft and "ECONNREFUSED" in draft
    # The health timeline follows in the same thread, through the upload flow (the texts stand alone).
    timeline = await eventually(lambda: next((m for m in slack.messages(inc.channel_id) if m.get("files")), None),
                                timeout=60)
    assert timeline["thread_ts"] == final["ts"] and timeline["files"][0]["title"] == "INC-1 backend: health timeline"
    assert "impact start" in timeline["files"][0]["alt_txt"]
    width, height, shades = png_facts(slack.file_content(timeline["files"][0]["id"]))
    assert width == 704 and height > 400 and shades > 50
    await eventually(lambda: "Resolved" in texts(summary()) and not action_ids(summary()), timeout=30)
    assert sum("resolved" in m["text"] for m in slack.messages("C0INCIDENTS")) == 1

    kinds = [e.kind for e in await store.timeline(bot.rt.store, inc.id)]
    for kind in ("declared", "playbooks", "mitigated", "resolution_proposed", "acknowledged", "resolved"):
        assert kind in kinds
    for call in slack.calls_to("chat.postMessage") + slack.calls_to("chat.update"):
        assert call.ok, call.response
        assert len(call.params.get("blocks") or []) <= MAX_BLOCKS
        assert message_problems(call.params.get("text"), call.params.get("blocks") or None, max_text=None) == []


async def _resolved(bot, incident_id):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.status == "resolved" else None


async def test_without_channel_rights_the_incident_lives_in_a_thread(make_bot, slack, signer, target, railway):
    slack.workspace.allow_channel_create = False
    bot = await start(make_bot, target, railway)
    await target.close_port()  # the whole service goes down: liveness fails
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    inc = await eventually(lambda: _with_summary(bot, inc.id), timeout=30)
    assert (inc.severity, inc.channel_id, inc.thread_ts) == ("sev1", "C0INCIDENTS", inc.announce_ts)
    root = slack.message("C0INCIDENTS", inc.thread_ts)
    assert "INC-1" in root["text"] and "thread" in root["text"]
    summary = slack.message("C0INCIDENTS", inc.summary_ts)
    assert summary["thread_ts"] == inc.thread_ts
    assert inc.summary_ts in slack.pins("C0INCIDENTS")

    # A person resolves it from the incidents channel: the only open incident, with the cause stated.
    req = signer.slash_command("/incident", "resolve the pool was exhausted by a retry storm", user_id="U0BOB",
                               channel_id="C0INCIDENTS", response_url=slack.response_url(channel="C0INCIDENTS"))
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(bot.slack_url, content=req.body, headers=req.headers)
    assert resp.status_code == 200
    done = await eventually(lambda: _resolved(bot, inc.id), timeout=30)
    assert done.cause == "the pool was exhausted by a retry storm"
    final = await eventually(lambda: next((m for m in slack.messages("C0INCIDENTS")
                                           if "Time to detect" in texts(m)), None), timeout=30)
    assert final["thread_ts"] == inc.thread_ts and "retry storm" in texts(final)
    await target.open_port()


async def _with_summary(bot, incident_id):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.summary_ts else None


async def test_manual_open_status_and_already_open(make_bot, slack, signer, target, railway):
    bot = await start(make_bot, target, railway)
    responses_before = len(slack.responses)

    async def command(text: str, channel: str = "C0GENERAL", user: str = "U0ANA") -> dict:
        req = signer.slash_command("/incident", text, user_id=user, channel_id=channel,
                                   response_url=slack.response_url(channel=channel))
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.post(bot.slack_url, content=req.body, headers=req.headers)
        assert resp.status_code == 200
        return resp.json()

    taken = f"inc-{datetime.now(UTC):%Y%m%d}-backend-checkout-pagos-fallan-con-502-metodo-tarjeta"
    slack.workspace.add_channel(taken)  # a name already in use: the bot adds a suffix
    ack = await command("open backend Checkout: pagos fallan con 502 — método tarjeta")
    assert "backend" in ack["text"]
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    assert (inc.source, inc.opened_by, inc.title, inc.impact["reason"]) == (
        "manual", "U0ANA", "Checkout: pagos fallan con 502 — método tarjeta", "manual")
    inc = await eventually(lambda: _with_summary(bot, inc.id), timeout=30)
    assert slack.channel(inc.channel_id)["name"] == taken + "-2"
    opened = await eventually(lambda: [r for r in slack.responses[responses_before:] if "INC-1" in
                                       r.payload.get("text", "")], timeout=30)
    assert f"<#{inc.channel_id}>" in opened[0].payload["text"]

    await command("open backend second report", user="U0BOB")
    await eventually(lambda: any("already open" in r.payload.get("text", "") for r in slack.responses), timeout=30)
    assert await incident_count(bot) == 1

    await command("status", channel=inc.channel_id, user="U0BOB")
    reposted = await eventually(lambda: [r for r in slack.responses if r.payload.get("response_type") == "in_channel"],
                                timeout=30)
    assert "INC-1" in reposted[0].payload["text"] and reposted[0].payload["blocks"]
    bad = await command("frobnicate")
    assert "Usage" in bad["text"]


async def test_memory_above_the_threshold_is_a_degraded_signal(make_bot, slack, target, railway):
    now = time.time()
    railway.world.set_metrics("backend", "MEMORY_USAGE_GB", [(now - 150, 0.41), (now - 20, 0.93)])
    railway.world.set_metrics("backend", "MEMORY_LIMIT_GB", [(now - 150, 1.0), (now - 20, 1.0)])
    railway.world.set_metrics("backend", "CPU_USAGE", [(now - 20, 0.2)])
    railway.world.set_metrics("backend", "CPU_LIMIT", [(now - 20, 2.0)])
    bot = await start(make_bot, target, railway)  # the probes all pass: only the metrics speak
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    assert (inc.severity, inc.symptom, inc.title) == ("sev3", "memory", "memory above 80%")
    assert inc.impact["args"] == {"metric": "memory", "percent": 93.0, "threshold": 80.0}
    inc = await eventually(lambda: _with_summary(bot, inc.id), timeout=30)
    assert "Memory use is at 93.0% of the service's limit" in texts(slack.message(inc.channel_id, inc.summary_ts))


def test_pressure_is_the_worst_metric_over_the_threshold():
    assert pressure_of((0.5, 1.0), (1.9, 2.0), 80) == {"metric": "cpu", "percent": 95.0, "threshold": 80}
    assert pressure_of((0.81, 1.0), (None, 2.0), 80) == {"metric": "memory", "percent": 81.0, "threshold": 80}
    assert pressure_of((0.8, 1.0), (1.0, 0), 80) is None  # at the threshold, or no limit known: no signal


async def test_the_real_playbooks_are_wired_by_symptom(make_bot, target, railway):
    bot = await make_bot(config(target.url), RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN="railway-test")
    runner = bot.chatops.incidents.playbook_runner  # the composition root's, not a test double
    target.set_state(db_down_at_runtime=True)
    findings = await runner("backend", "db", "es")
    assert [f.playbook for f in findings] == ["db"]
    assert all(f.verdict in ("ok", "problem", "unknown") for f in findings)


def test_channel_names_follow_slacks_rules():
    day = datetime(2026, 11, 27, tzinfo=UTC)
    assert channel_name(day, "backend", "ready-failing") == "inc-20261127-backend-ready-failing"
    assert slug("¡Pagos caídos! (EU/US) 100%") == "pagos-caidos-eu-us-100"
    long = channel_name(day, "backend", "a very long title " * 10)
    assert len(long) <= 80 and not long.endswith("-")
    assert len(with_suffix(long, 2)) <= 80 and with_suffix(long, 2).endswith("-2")


async def test_failing_again_after_mitigation_reopens_the_investigation(make_bot, slack, target, railway):
    bot = await start(make_bot, target, railway, recovery=60)
    target.set_state(db_down_at_runtime=True)
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    target.set_state(db_down_at_runtime=False)
    first = await eventually(lambda: _in_status(bot, inc.id, "mitigated"), timeout=30)
    target.set_state(db_down_at_runtime=True)
    relapsed = await eventually(lambda: _in_status(bot, inc.id, "investigating"), timeout=30)
    assert relapsed.mitigated_at is None and relapsed.impact_ended_at is None  # the impact had not ended
    target.set_state(db_down_at_runtime=False)
    second = await eventually(lambda: _in_status(bot, inc.id, "mitigated"), timeout=30)
    assert second.mitigated_at > first.mitigated_at and second.resolve_proposed_at is None  # window: 60 s
    def announcements() -> list[str] | None:  # posted just after each status change: wait, don't race
        found = [m["text"] for m in slack.messages("C0INCIDENTS")][1:]
        return found if len(found) >= 3 else None

    lines = await eventually(announcements, timeout=30)
    assert [("mitigated" in x, "failing again" in x) for x in lines] == [(True, False), (False, True),
                                                                          (True, False)]


async def _in_status(bot, incident_id, status):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.status == status else None
