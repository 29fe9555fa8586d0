"""The public status page through the real bot: components from real probes of the target emulator,
incidents only with words a second person approved (signed Slack clicks), caching headers, both
languages, and nothing internal on the page, in its JSON or in its feed."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import httpx
import pytest

from bot.slack.action_ids import ActionId
from bot.status.page import state_of
from bot.store import audit
from bot.store import incidents as store
from bot.store.probes import save_reports
from tests.conftest import eventually
from tests.test_incidents_outage import action_ids, texts

pytest_plugins = ["tests.incident_fixtures"]

CONFIG = """
[[services]]
name = "backend"
url = "{url}"
profile = "ivan-reseller-web"

[incidents]
channel = "C0INCIDENTS"

[approvals]
approvers = ["U0BOB", "U0DAN"]

[monitor]
enabled = false
summary_interval_seconds = 0.05

[status_page]
enabled = {enabled}
title = "Example Shop status"
{language}
services = {{ backend = "Shop API" }}
"""
TITLE = "Checkout 502 after deployment dep-7f3a (pool exhausted)"  # internal words: never public
PUBLIC = "Card payments fail for some customers. We are on it & will update here."


async def start(make_bot, target, *, enabled: bool = True, language: str = "", database_url: str | None = None):
    text = CONFIG.format(url=target.url, enabled=str(enabled).lower(), language=language)
    bot = await make_bot(text, database_url=database_url)
    if enabled:  # a real probe of the target, stored as the monitor stores its own
        report = await bot.rt.prober.probe_service(bot.rt.config.service("backend"))
        await save_reports(bot.rt.store, [report], source="monitor")
    return bot


async def get(bot, path: str, **headers) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(bot.url + path, headers=headers)


async def command(bot, slack, signer, text: str, *, user: str = "U0ANA", channel: str = "C0GENERAL") -> None:
    req = signer.slash_command("/incident", text, user_id=user, channel_id=channel,
                               response_url=slack.response_url(channel=channel))
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code == 200


async def click(bot, slack, signer, action_id: str, message: dict, *, user: str, channel: str) -> None:
    value = next(e["value"] for b in message["blocks"] if b.get("type") == "actions" for e in b["elements"]
                 if e["action_id"] == action_id)
    req = signer.block_actions(action_id, value, user_id=user, channel_id=channel, message_ts=message["ts"],
                               message=message, response_url=slack.response_url("actions", channel=channel,
                                                                                message_ts=message["ts"]))
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code == 200


def said(slack, words: str) -> bool:
    return any(words in r.payload.get("text", "") for r in slack.responses)


async def open_incident(bot, slack, signer):
    await command(bot, slack, signer, f"open backend {TITLE}")
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    return await eventually(lambda: _with_channel(bot, inc.id), timeout=30)


async def _with_channel(bot, incident_id):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if inc.channel_id and inc.summary_ts else None


def draft_in(slack, channel: str) -> dict | None:
    return next((m for m in slack.messages(channel) if ActionId.PUBLIC_UPDATE_APPROVE in action_ids(m)), None)


async def test_an_incident_appears_only_after_a_second_person_approves_its_public_update(db_url, make_bot, slack,
                                                                                      signer, target):
    bot = await start(make_bot, target, database_url=db_url)
    page = await get(bot, "/status")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<html lang="en">' in page.text and "<h1>Example Shop status</h1>" in page.text
    assert "Shop API" in page.text and "Operational" in page.text and "All systems operational" in page.text

    inc = await open_incident(bot, slack, signer)
    assert "No incidents right now." in (await get(bot, "/status")).text  # declared, but nothing public yet

    await command(bot, slack, signer, f"publish {PUBLIC}", channel=inc.channel_id)
    draft = await eventually(lambda: draft_in(slack, inc.channel_id), timeout=30)
    assert PUBLIC.replace("&", "&amp;") in texts(draft)  # quoted in Slack as the page will show it
    assert "No incidents right now." in (await get(bot, "/status")).text  # a draft is not public

    await click(bot, slack, signer, ActionId.PUBLIC_UPDATE_APPROVE, draft, user="U0ANA", channel=inc.channel_id)
    await eventually(lambda: said(slack, "someone else has to approve it"), timeout=30)
    await click(bot, slack, signer, ActionId.PUBLIC_UPDATE_APPROVE, draft, user="U0CARL", channel=inc.channel_id)
    await eventually(lambda: said(slack, "Only an approver"), timeout=30)
    assert "No incidents right now." in (await get(bot, "/status")).text

    # Two approvers click at once, several times: published exactly once.
    await asyncio.gather(*(click(bot, slack, signer, ActionId.PUBLIC_UPDATE_APPROVE, draft, user=user,
                                 channel=inc.channel_id) for user in ("U0BOB", "U0DAN") * 3))
    await eventually(lambda: _kinds(bot, inc.id, "public_update_published"), timeout=30)
    await eventually(lambda: _audited(bot, 8), timeout=30)
    outcomes = [r.outcome for r in await audit.entries(bot.rt.store) if r.name == ActionId.PUBLIC_UPDATE_APPROVE]
    assert outcomes.count("published") == 1 and outcomes.count("already_decided") == 5
    assert len(await _kinds(bot, inc.id, "public_update_published")) == 1
    decided = await eventually(lambda: next((m for m in slack.messages(inc.channel_id)
                                             if "Published on the status page" in texts(m)), None), timeout=30)
    assert ActionId.PUBLIC_UPDATE_APPROVE not in action_ids(decided)

    page = (await get(bot, "/status")).text
    assert "Current incidents" in page and "Shop API: ongoing incident" in page
    assert PUBLIC.replace("&", "&amp;") in page  # the approved words, HTML-escaped once
    assert "Some systems are having problems" in page  # an open incident: not "all operational"
    data = (await get(bot, "/status.json")).json()
    assert data["incidents"][0]["updates"][0]["text"] == PUBLIC
    assert data["components"] == [{"name": "Shop API", "state": "operational"}]
    feed = ET.fromstring((await get(bot, "/status/feed.atom")).content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [e.findtext("a:content", namespaces=ns) for e in feed.findall("a:entry", ns)] == [PUBLIC]
    for body in (page, json.dumps(data), ET.tostring(feed, encoding="unicode")):
        for internal in ("dep-7f3a", "pool exhausted", "Checkout 502", "U0ANA", "U0BOB", "backend",
                         inc.channel_id, "P1000"):
            assert internal not in body, internal

    await command(bot, slack, signer, "resolve the pool size", channel=inc.channel_id, user="U0BOB")
    await eventually(lambda: _resolved(bot, inc.id), timeout=30)
    page = (await get(bot, "/status")).text
    assert "No incidents right now." in page and "Shop API: resolved incident" in page
    assert "Past incidents (last 90 days)" in page


async def test_caching_headers_and_conditional_requests(make_bot, slack, target):
    bot = await start(make_bot, target)
    for path in ("/status", "/status.json", "/status/feed.atom"):
        first = await get(bot, path)
        assert first.status_code == 200
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert first.headers["Cache-Control"] == "public, max-age=30"
        assert "script-src" not in first.headers["Content-Security-Policy"]  # default-src 'none': no script
        again = await get(bot, path)
        assert again.headers["ETag"] == etag and again.content == first.content  # no render time on the page
        assert (await get(bot, path, **{"If-None-Match": etag})).status_code == 304
        assert (await get(bot, path, **{"If-None-Match": '"other"'})).status_code == 200
        assert (await get(bot, path, **{"If-Modified-Since": modified})).status_code == 304
        assert (await get(bot, path, **{"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})).status_code == 200
    # A new probe changes what the page says: a new ETag, and Last-Modified moves.
    await target.close_port()
    report = await bot.rt.prober.probe_service(bot.rt.config.service("backend"))
    await save_reports(bot.rt.store, [report], source="monitor")
    down = await get(bot, "/status")
    assert down.headers["ETag"] != etag and "Outage" in down.text
    await target.open_port()


async def test_the_page_speaks_its_configured_language(make_bot, slack, target):
    bot = await start(make_bot, target, language='language = "es"')
    page = (await get(bot, "/status")).text
    assert '<html lang="es">' in page and "<h2 id=\"components\">Componentes</h2>" in page
    assert "Todos los sistemas funcionan" in page and "Operativo" in page
    assert (await get(bot, "/status")).headers["Content-Language"] == "es"


async def test_without_probes_the_state_is_unknown_not_operational(make_bot, slack, target):
    bot = await make_bot(CONFIG.format(url=target.url, enabled="true", language=""))
    data = (await get(bot, "/status.json")).json()
    assert data["components"] == [{"name": "Shop API", "state": "unknown"}]
    assert data["status"]["indicator"] == "unknown"


async def test_disabled_means_no_routes_and_publish_says_so(make_bot, slack, signer, target):
    bot = await start(make_bot, target, enabled=False)
    for path in ("/status", "/status.json", "/status/feed.atom"):
        assert (await get(bot, path)).status_code == 404
    inc = await open_incident(bot, slack, signer)
    await command(bot, slack, signer, "publish We are on it", channel=inc.channel_id)
    await eventually(lambda: said(slack, "The status page is not enabled"), timeout=30)


async def test_a_draft_with_slack_mentions_or_links_is_refused(make_bot, slack, signer, target):
    bot = await start(make_bot, target)
    inc = await open_incident(bot, slack, signer)
    await command(bot, slack, signer, "publish <@U0ANA> is on it, see <https://grafana.internal|dash>",
                  channel=inc.channel_id)
    await eventually(lambda: said(slack, "cannot hold Slack mentions"), timeout=30)
    assert draft_in(slack, inc.channel_id) is None


async def test_a_draft_slack_would_not_take_is_withdrawn_not_left_pending(make_bot, slack, signer, target):
    from sqlalchemy import select

    from bot.store.public_updates import PublicUpdate

    bot = await start(make_bot, target)
    inc = await open_incident(bot, slack, signer)
    slack.fail("chat.postMessage", "channel_not_found")
    await command(bot, slack, signer, "publish We are on it", channel=inc.channel_id)
    await eventually(lambda: said(slack, "I could not post the draft"), timeout=30)
    async with bot.rt.store.session() as session:
        rows = list((await session.scalars(select(PublicUpdate))).all())
    assert [row.status for row in rows] == ["rejected"]


def test_the_status_page_table_is_validated_strictly():
    from bot.common.errors import ConfigError
    from bot.config.services import parse_services

    base = '[[services]]\nname = "backend"\nurl = "https://b.example.com"\n'
    assert parse_services(base + '[status_page]\nenabled = true\nservices = { backend = "API" }').status_page.enabled
    for bad, words in ((base + '[status_page]\nenabled = true\nservices = { nope = "API" }', "'nope'"),
                       (base + "[status_page]\nenabled = true", "at least one service"),
                       (base + '[status_page]\ntitel = "x"', "status_page.titel"),
                       (base + '[status_page]\nservices = { backend = "" }', "public name"),
                       (base + '[status_page]\nlanguage = "fr"', "status_page.language")):
        with pytest.raises(ConfigError, match=words):
            parse_services(bad, "chatops.toml")


def test_a_drifting_runbook_is_not_an_outage():
    assert state_of("degraded", "drift") == "operational"
    assert (state_of("healthy", None), state_of("degraded", "db_down_now"), state_of("down", "refused"),
            state_of(None, None)) == ("operational", "degraded", "outage", "unknown")


async def _kinds(bot, incident_id: int, kind: str) -> list:
    return [e for e in await store.timeline(bot.rt.store, incident_id) if e.kind == kind]


async def _audited(bot, n: int) -> bool:
    await bot.rt.audit.flush()
    rows = [r for r in await audit.entries(bot.rt.store) if r.name == ActionId.PUBLIC_UPDATE_APPROVE]
    return len(rows) >= n and all(r.outcome != "received" for r in rows)


async def _resolved(bot, incident_id: int):
    inc = await store.get(bot.rt.store, incident_id)
    return inc if not inc.is_open else None


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_text_colour_has_aa_contrast_on_every_background(lang):
    """WCAG 2.x contrast ratio of each ``color:`` in the page's CSS against each ``background:`` (AA: 4.5)."""
    import re
    from pathlib import Path

    css = (Path(__file__).resolve().parents[1] / "bot/i18n/templates" / lang / "status.html.j2").read_text()

    def full(colour: str) -> str:
        return colour if len(colour) == 7 else "#" + "".join(c * 2 for c in colour[1:])

    colours = {full(c) for c in re.findall(r"(?<![-\w])color:\s*(#[0-9a-f]{3,6})\b", css)}
    backgrounds = {full(c) for c in re.findall(r"background:\s*(#[0-9a-f]{3,6})\b", css)}
    assert len(colours) >= 6 and backgrounds == {"#f6f7f9", "#ffffff"}
    for fg in colours:
        for bg in backgrounds:
            hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
            assert (hi + 0.05) / (lo + 0.05) >= 4.5, (fg, bg)


async def test_with_the_database_away_the_page_answers_503_not_a_traceback(pg_url, make_bot, slack, target):
    from urllib.parse import urlsplit

    from tests.tcp_proxy import TcpProxy

    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    port = await proxy.start()
    bot = await start(make_bot, target, database_url=pg_url.replace(f"{parts.hostname}:{parts.port}",
                                                                    f"127.0.0.1:{port}"))
    assert (await get(bot, "/status")).status_code == 200
    await proxy.cut()
    for path in ("/status", "/status.json", "/status/feed.atom"):
        down = await get(bot, path)
        assert down.status_code == 503 and "Try again in a minute" in down.text, path
        assert down.headers["Cache-Control"] == "no-store" and down.headers["Retry-After"] == "30"
        assert "postgres" not in down.text
    await proxy.restore()
    assert (await eventually(lambda: _status_code(bot), timeout=30)) == 200
    await proxy.cut()
    await proxy.restore()


async def _status_code(bot) -> int | None:
    code = (await get(bot, "/status")).status_code
    return code if code == 200 else None
