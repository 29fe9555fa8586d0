"""Alerts from Alertmanager, UptimeRobot and the generic shape, through the real bot on loopback.

Deliveries are the fixtures written from each tool's documented samples (``tests/fixtures/alerts``),
posted over real HTTP to ``POST /alerts/<source>/<token>``; incidents land in the Slack emulator.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy import select

from bot.alerts.payloads import MAX_DEPTH, Malformed, NotAnOutage, read
from bot.slack.action_ids import ActionId
from bot.store import alerts as alert_store
from bot.store import audit
from bot.store import incidents as store
from bot.store.incidents import Incident
from bot.store.models import Event
from tests.alert_payloads import payload
from tests.conftest import eventually
from tests.test_incidents_outage import action_ids, texts

pytest_plugins = ["tests.incident_fixtures"]

TOKEN = "alt-8c1f0e5b9a7d4e2f8a6c0b1d2e3f4a5b"
CONFIG = """
[[services]]
name = "backend"
url = "{url}"
profile = "ivan-reseller-web"

[incidents]
channel = "C0INCIDENTS"

[monitor]
enabled = false
summary_interval_seconds = 0.05
"""


async def start(make_bot, target, database_url: str | None = None, **settings):
    settings.setdefault("CHATOPS_ALERTS_TOKEN", TOKEN)
    return await make_bot(CONFIG.format(url=target.url), database_url=database_url, **settings)


async def deliver(bot, source: str, body: bytes, content_type: str = "application/json", *,
                  token: str = TOKEN) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(f"{bot.url}/alerts/{source}/{token}", content=body,
                               headers={"Content-Type": content_type})


async def alert_events(bot, incident_id: int) -> list[Event]:
    return [e for e in await store.timeline(bot.rt.store, incident_id) if e.kind.startswith("alert")]


async def incidents(bot) -> list[Incident]:
    async with bot.rt.store.session() as session:
        return list((await session.scalars(select(Incident))).all())


async def audit_rows(bot, name: str) -> list:
    await bot.rt.audit.flush()
    return [r for r in await audit.entries(bot.rt.store) if r.name == name]


async def test_alertmanager_firing_opens_one_incident_and_resolved_asks_a_person(db_url, make_bot, slack, target):
    bot = await start(make_bot, target, db_url)
    firing = payload("alertmanager_firing.json")
    resp = await deliver(bot, "alertmanager", *firing)
    assert resp.status_code == 202, resp.text
    assert resp.json()["results"][0]["outcome"] == "opened"
    inc = await store.open_for_service(bot.rt.store, "backend")
    assert (inc.source, inc.severity, inc.title) == ("alert", "sev1", "Backend error rate above 5%")

    again = await deliver(bot, "alertmanager", *firing)  # Alertmanager re-sends every repeat_interval
    assert again.status_code == 202 and again.json()["results"][0]["outcome"] == "repeat"
    assert len(await incidents(bot)) == 1
    [entry] = await alert_events(bot, inc.id)
    assert (entry.kind, entry.data["count"], entry.data["via"]) == ("alert", 2, "Alertmanager")

    summary = await eventually(lambda: inc.id and _summary(slack, bot, inc.id), timeout=30)
    assert "Backend error rate above 5%" in texts(summary)

    resolved = await deliver(bot, "alertmanager", *payload("alertmanager_resolved.json"))
    assert resolved.status_code == 202 and resolved.json()["results"][0]["outcome"] == "resolved"
    assert [e.kind for e in await alert_events(bot, inc.id)] == ["alert", "alert_resolved"]
    inc = await store.get(bot.rt.store, inc.id)
    assert inc.is_open and inc.resolve_proposed_at is not None  # a person still resolves it
    proposal = await eventually(lambda: next((m for m in slack.messages(inc.channel_id)
                                              if ActionId.INCIDENT_RESOLVE in action_ids(m)), None), timeout=30)
    assert "INC-1" in texts(proposal)

    twice = await deliver(bot, "alertmanager", *payload("alertmanager_resolved.json"))
    assert twice.json()["results"][0]["outcome"] == "already_resolved"
    assert len(await alert_events(bot, inc.id)) == 2
    rows = await audit_rows(bot, "alerts.alertmanager")
    assert [r.outcome for r in rows] == ["accepted"] * 4 and all(TOKEN not in r.detail for r in rows)


def _summary(slack, bot, incident_id: int):
    async def find():
        inc = await store.get(bot.rt.store, incident_id)
        return inc.summary_ts and slack.message(inc.channel_id, inc.summary_ts)
    return find()


async def test_uptimerobot_down_for_the_backends_url_opens_and_up_resolves(make_bot, slack, target):
    bot = await start(make_bot, target)
    down = await deliver(bot, "uptimerobot", *payload("uptimerobot_down.form", base_url=target.url))
    assert down.status_code == 202, down.text
    assert down.json()["results"][0] | {"fingerprint": None} == {
        "fingerprint": None, "service": "backend", "outcome": "opened", "incident": "INC-1"}
    inc = await store.open_for_service(bot.rt.store, "backend")
    assert (inc.title, inc.severity) == ("Backend API", "sev1")
    again = await deliver(bot, "uptimerobot", *payload("uptimerobot_down.form", base_url=target.url))
    assert again.json()["results"][0]["outcome"] == "repeat"

    up = await deliver(bot, "uptimerobot", *payload("uptimerobot_up.json", base_url=target.url))
    assert up.status_code == 202 and up.json()["results"][0]["outcome"] == "resolved"
    events = await alert_events(bot, inc.id)
    assert [(e.kind, e.data.get("count")) for e in events] == [("alert", 2), ("alert_resolved", None)]
    assert "Connection Timeout" in events[0].data["detail"]


async def test_a_monitor_for_another_host_is_refused_with_422_and_audited(make_bot, slack, target):
    bot = await start(make_bot, target)
    resp = await deliver(bot, "uptimerobot", *payload("uptimerobot_down.form"))  # backend.example.com
    assert resp.status_code == 422
    assert "backend.example.com" in resp.json()["error"] and "backend" in resp.json()["error"]
    assert await incidents(bot) == []
    [row] = await audit_rows(bot, "alerts.uptimerobot")
    assert row.outcome == "rejected" and "backend.example.com" in row.detail


async def test_an_alert_joins_the_open_incident_and_a_different_one_gets_its_own_entry(make_bot, slack, target):
    bot = await start(make_bot, target)
    await deliver(bot, "alertmanager", *payload("alertmanager_firing.json"))
    resp = await deliver(bot, "generic", *payload("generic_firing.json"))
    assert resp.json()["results"][0]["outcome"] == "joined"
    [inc] = await incidents(bot)
    assert [e.data["via"] for e in await alert_events(bot, inc.id)] == ["Alertmanager", "generic"]
    # One of two alerts resolved: nothing is proposed yet.
    await deliver(bot, "alertmanager", *payload("alertmanager_resolved.json"))
    assert (await store.get(bot.rt.store, inc.id)).resolve_proposed_at is None


async def test_resolved_alerts_propose_nothing_while_the_bots_probes_see_the_failure(make_bot, slack, target):
    bot = await start(make_bot, target)
    await deliver(bot, "alertmanager", *payload("alertmanager_firing.json"))
    inc = await store.open_for_service(bot.rt.store, "backend")
    await store.set_fields(bot.rt.store, inc.id, probe_failed=True)  # as the monitor records a failing probe
    resolved = await deliver(bot, "alertmanager", *payload("alertmanager_resolved.json"))
    assert resolved.json()["results"][0]["outcome"] == "resolved"
    assert (await store.get(bot.rt.store, inc.id)).resolve_proposed_at is None  # the monitor decides recovery


async def test_a_flood_of_identical_alerts_makes_one_incident_and_one_counted_entry(db_url, make_bot, slack,
                                                                                  target):
    bot = await start(make_bot, target, db_url)
    body, content_type = payload("generic_firing.json")
    limit = asyncio.Semaphore(50)

    async def one(http: httpx.AsyncClient) -> int:
        async with limit:
            resp = await http.post(f"{bot.url}/alerts/generic/{TOKEN}", content=body,
                                   headers={"Content-Type": content_type})
            return resp.status_code

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=50)) as http:
        codes = await asyncio.gather(*(one(http) for _ in range(1000)))
    assert set(codes) == {202}
    [inc] = await incidents(bot)
    [entry] = await alert_events(bot, inc.id)
    assert entry.data["count"] == 1000
    [record] = await alert_store.for_incident(bot.rt.store, inc.id)
    assert record.count == 1000
    assert [e.kind for e in await store.timeline(bot.rt.store, inc.id)].count("declared") == 1


async def test_bad_tokens_unknown_sources_and_malformed_bodies_get_clear_4xx_and_an_audit_row(make_bot, slack,
                                                                                           target):
    bot = await start(make_bot, target)
    firing = payload("alertmanager_firing.json")
    assert (await deliver(bot, "alertmanager", *firing, token="wrong")).status_code == 404
    assert (await deliver(bot, "alertmanager", *firing, token=TOKEN + "x")).status_code == 404
    unknown = await deliver(bot, "pingdom", *firing)
    assert unknown.status_code == 404 and "alertmanager, uptimerobot, generic" in unknown.json()["error"]
    cases = [
        ("alertmanager", b"{not json", "not valid JSON"),
        ("alertmanager", b"[1, 2]", "must be a JSON object"),
        ("alertmanager", firing[0].replace(b'"version": "4"', b'"version": "3"'), "version 4"),
        ("alertmanager", b'{"version": "4", "alerts": []}', "alerts is missing"),
        ("alertmanager", b'{"version": "4", "alerts": [{"status": "firing", "labels": {"a": 1}}]}',
         "alerts[0].labels has the wrong type"),
        ("generic", b'{"service": "backend", "status": "burning", "title": "x"}', "status has a value"),
        ("generic", b'{"service": "backend", "status": "firing"}', "title is missing"),
        ("generic", b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
        ("generic", b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, "The body is larger than"),
        ("uptimerobot", b"monitorURL=x&alertType=9", "alertType has a value"),
        ("generic", b"\xff\xfe", "not UTF-8"),
    ]
    for source, body, words in cases:
        ctype = "application/x-www-form-urlencoded" if source == "uptimerobot" and body[:1] != b"{" else \
            "application/json"
        resp = await deliver(bot, source, body, ctype)
        expected = 413 if "larger" in words else 400
        assert resp.status_code == expected, (source, body[:40], resp.text)
        assert words in resp.json()["error"], resp.json()
    assert await incidents(bot) == []
    await bot.rt.audit.flush()
    rows = [r for r in await audit.entries(bot.rt.store) if r.kind == "alert"]
    assert len(rows) == 3 + len(cases)
    assert {r.outcome for r in rows} == {"rejected"}
    assert all(TOKEN not in (r.detail + r.arguments) for r in rows)


async def test_without_a_token_there_is_no_route(make_bot, slack, target):
    bot = await start(make_bot, target, CHATOPS_ALERTS_TOKEN=None)
    assert [path for _, path, _ in bot.chatops.web_routes() if path.startswith("/alerts")] == []
    resp = await deliver(bot, "alertmanager", *payload("alertmanager_firing.json"), token="anything")
    assert resp.status_code == 404
    await bot.rt.audit.flush()
    assert [r for r in await audit.entries(bot.rt.store) if r.kind == "alert"] == []


async def test_nothing_from_an_alert_reaches_slack_unescaped_or_unredacted(make_bot, slack, target):
    bot = await start(make_bot, target)
    hostile = {"service": "backend", "status": "firing", "id": "x",
               "title": "<!channel> DB down & <https://evil.example|click> DATABASE_URL=postgres://u:hunter2@db/x",
               "details": "token xoxb-1234567890-abcdef leaked; <@U0BOSS> look"}
    resp = await deliver(bot, "generic", json.dumps(hostile).encode())
    assert resp.status_code == 202
    inc = await store.open_for_service(bot.rt.store, "backend")
    await eventually(lambda: _summary(slack, bot, inc.id), timeout=30)
    inc = await store.get(bot.rt.store, inc.id)
    messages = [m for channel in ("C0INCIDENTS", inc.channel_id) for m in slack.messages(channel)]
    assert messages
    mrkdwn = "\n".join(text for m in messages for text in _mrkdwn(m))
    everything = "\n".join(texts(m) for m in messages)
    for bad in ("<!channel>", "<https://evil", "<@U0BOSS>"):  # Slack would act on these in mrkdwn
        assert bad not in mrkdwn, bad
    for secret in ("hunter2", "xoxb-1234567890"):  # not anywhere, plain_text included
        assert secret not in everything, secret
    assert "&lt;!channel&gt;" in mrkdwn
    rows = await audit_rows(bot, "alerts.generic")
    assert rows and all("hunter2" not in r.arguments and "xoxb-1234567890" not in r.arguments for r in rows)
    [entry] = await alert_events(bot, inc.id)
    assert "hunter2" not in json.dumps(entry.data) and "xoxb-1234567890" not in json.dumps(entry.data)


def _mrkdwn(message: dict) -> list[str]:
    """The texts Slack parses as mrkdwn: the message's ``text`` and every mrkdwn object (a header is plain)."""
    out = [message.get("text", "")]

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return out


# ---- the readers, on their own ----------------------------------------------------------------------------


def test_alertmanager_reader_takes_the_configured_label_and_its_severity():
    body, ctype = payload("alertmanager_firing.json")
    [alert] = read("alertmanager", body.replace(b'"service": "backend"', b'"app": "backend"'), ctype, "app")
    assert (alert.service, alert.severity, alert.status, alert.fingerprint) == (
        "backend", "sev1", "firing", "am:1a30ba71cca2921f")
    assert alert.started_at is not None and alert.started_at.year == 2026


def test_uptimerobot_ssl_reminders_are_not_outages_and_the_friendly_name_is_read():
    with pytest.raises(NotAnOutage):
        read("uptimerobot", b"alertType=3&monitorURL=https%3A%2F%2Fx.example", "application/x-www-form-urlencoded",
             "service")
    [alert] = read("uptimerobot", b'{"alertType": "", "alertTypeFriendlyName": "Down", "monitorURL": "x.example"}',
                   "application/json", "service")
    assert (alert.status, alert.host) == ("firing", "x.example")
    with pytest.raises(Malformed):
        read("uptimerobot", b"alertType=1", "application/x-www-form-urlencoded", "service")


def test_the_alerts_table_is_validated_strictly():
    from bot.common.errors import ConfigError
    from bot.config.services import parse_services

    assert parse_services('[alerts]\nservice_label = "app"').alerts.service_label == "app"
    for bad, words in (('[alerts]\nservice_lable = "app"', "alerts.service_lable"),
                       ('[alerts]\nservice_label = "a b"', "alerts.service_label")):
        with pytest.raises(ConfigError, match=words):
            parse_services(bad, "chatops.toml")


async def test_with_the_database_away_an_alert_gets_503_and_its_audit_row_waits(pg_url, make_bot, slack, target):
    """Nothing lost: the sender is told to retry (Alertmanager retries 5xx), the audit row is kept
    until the database is back, and the retry then opens the incident."""
    from urllib.parse import urlsplit

    from tests.tcp_proxy import TcpProxy

    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    port = await proxy.start()
    bot = await start(make_bot, target, pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{port}"))
    await proxy.cut()
    resp = await deliver(bot, "alertmanager", *payload("alertmanager_firing.json"))
    assert resp.status_code == 503 and "send it again" in resp.json()["error"]
    await proxy.restore()
    rows = await eventually(lambda: audit_rows(bot, "alerts.alertmanager"), timeout=30)
    assert [r.outcome for r in rows] == ["rejected"]
    again = await deliver(bot, "alertmanager", *payload("alertmanager_firing.json"))
    assert again.status_code == 202 and again.json()["results"][0]["outcome"] == "opened"
    await proxy.cut()
    await proxy.restore()
