"""Every message the bot posts on its own, refused by a Slack as strict as Slack: each failure kind has
its fallback, an audit row that says it failed, a line on the incident's timeline and a count in
/metrics, and nothing is posted twice.

Through the real bot on loopback with signed requests and the strict Slack emulator: the incident
channel archived (chat.postMessage ``is_archived``, chat.update ``is_inactive``), the bot removed from a
channel (``channel_not_found`` for a private one; ``not_in_channel`` and a join refused for a public
one), HTTP 500 and HTTP 429 past the client's own retries, on the summary, the announcement and the
alert's proposal to resolve. A Request rollback click whose request cannot be posted tells the person
who clicked why and what to do, in their language.
"""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.incidents.render import event_text
from bot.slack.action_ids import ActionId
from bot.slack.files import share_file
from bot.store import actions, audit
from bot.store import incidents as store
from tests.alert_payloads import payload
from tests.conftest import eventually
from tests.test_incidents_outage import action_ids, texts

pytest_plugins = ["tests.incident_fixtures"]

ALERTS_TOKEN = "alt-5b0e1c2d3f4a5b6c7d8e9f0a1b2c3d4e"
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
RAILWAY_NO_INCIDENTS_CHANNEL = "\n[monitor]\nenabled = false\nsummary_interval_seconds = 0.05\n"
RAILWAY_INCIDENTS = '\n[incidents]\nchannel = "C0INCIDENTS"\n' + RAILWAY_NO_INCIDENTS_CHANNEL


# ---- helpers --------------------------------------------------------------------------------------------


async def _start(make_bot, target, **settings):
    bot = await make_bot(CONFIG.format(url=target.url), CHATOPS_ALERTS_TOKEN=ALERTS_TOKEN, **settings)
    bot.chatops.incidents.playbook_runner = None  # the evidence is not what these tests are about
    return bot


async def _send(bot, req) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(bot.slack_url, content=req.body, headers=req.headers)
    assert resp.status_code == 200, resp.text


async def _incident(bot, slack, signer, text: str = "open backend checkout returns 502", user: str = "U0ANA"):
    await _send(bot, signer.slash_command("/incident", text, user_id=user, channel_id="C0GENERAL",
                                          response_url=slack.response_url(channel="C0GENERAL")))

    async def set_up():
        inc = await store.open_for_service(bot.rt.store, "backend")
        # set up: the summary posted and pinned where it belongs, or (refused there) recorded as failed
        return inc if inc and inc.channel_id and (inc.summary_ts or await _failures(bot, "incident.summary")) \
            else None
    return await eventually(set_up, timeout=30)


async def _failures(bot, what: str | None = None) -> list:
    """The audit rows of posts and edits that did not land where they were asked."""
    await bot.rt.audit.flush(timeout=30)
    return [r for r in await audit.entries(bot.rt.store) if (r.outcome or "").startswith("post_failed")
            and (what is None or r.name == f"post:{what}")]


async def _failures_of(bot, *whats: str) -> list | None:
    """One failure row for each of ``whats`` (in that order), once they are all written."""
    rows = {r.name: r for r in await _failures(bot)}
    found = [rows.get(f"post:{what}") for what in whats]
    return None if None in found else found


async def _events(bot, incident_id: int, kind: str = "post_failed", *, at_least: int = 1) -> list:
    """The incident's timeline events of ``kind``, once there are ``at_least`` of them (written just
    after the audit row and the fallback post)."""
    async def found():
        events = [e for e in await store.timeline(bot.rt.store, incident_id) if e.kind == kind]
        return events if len(events) >= at_least else None
    return await eventually(found, timeout=30)


async def _counted(bot, what: str, failure: str, fallback: str) -> float:
    """chatops_slack_post_failures_total for these labels, as GET /metrics serves it."""
    async with httpx.AsyncClient(timeout=30) as http:
        body = (await http.get(bot.url + "/metrics")).text
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "chatops_slack_post_failures_total" and sample.labels == {
                    "what": what, "failure": failure, "fallback": fallback}:
                return sample.value
    return 0.0


def _saying(slack, channel: str, words: str) -> list[dict]:
    return [m for m in slack.messages(channel) if words in texts(m)]


def _final_summaries(slack, channel: str) -> list[dict]:
    """The final summaries in ``channel`` (the postmortem draft speaks of detection times too)."""
    return [m for m in _saying(slack, channel, "Time to detect") if "# Postmortem" not in texts(m)]


def _note(message: dict) -> str:
    """The fallback note on top of a moved message (a context block), or its text without blocks."""
    blocks = message.get("blocks") or []
    if blocks and blocks[0]["type"] == "context":
        return blocks[0]["elements"][0]["text"]
    return message["text"]


def _told(slack, *words: str) -> str | None:
    said = json.dumps([r.payload for r in slack.responses if r.status == 200], ensure_ascii=False)
    return said if all(w in said for w in words) else None


def _no_secret(rows) -> None:
    for row in rows:
        assert "xoxb" not in f"{row.outcome} {row.detail}" and len(row.outcome) <= 64


# ---- the summary ------------------------------------------------------------------------------------------


async def test_summary_refused_with_500_twice_goes_to_the_incidents_channel_once(make_bot, slack, signer, target):
    bot = await _start(make_bot, target)
    before = await _counted(bot, "incident.summary", "unavailable", "moved")
    slack.server_error("chat.postMessage", count=2)  # the summary (the first post) and its one retry
    inc = await _incident(bot, slack, signer)
    [copy, announcement] = await slack.wait_for(lambda: len(slack.messages("C0INCIDENTS")) == 2
                                                and slack.messages("C0INCIDENTS"), timeout=30)
    assert f"I couldn't post this in <#{inc.channel_id}>: Slack did not accept it (http_500)" in _note(copy)
    assert "INC-1 · Investigating" in texts(copy) and "Timeline: 1 events" in texts(copy)
    assert f"<#{inc.channel_id}>" in announcement["text"] and "I couldn't" not in announcement["text"]
    assert slack.messages(inc.channel_id) == []  # refused twice there, never half-posted
    tries = [c.status for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == inc.channel_id]
    assert tries == [500, 500]  # one retry, bounded
    assert (await store.get(bot.rt.store, inc.id)).summary_ts is None  # nothing to pin or edit there

    [row] = await eventually(lambda: _failures(bot, "incident.summary"), timeout=30)
    assert (row.kind, row.outcome, row.subject, row.channel_id) == (
        "system", "post_failed:unavailable:http_500", "INC-1", inc.channel_id)
    assert "posted in C0INCIDENTS instead" in row.detail
    _no_secret([row])
    [event] = await _events(bot, inc.id)
    assert (event.data["what"], event.data["fallback"], event.data["where"]) == ("incident.summary", "moved",
                                                                                 "C0INCIDENTS")
    assert (f"Could not post the incident summary in <#{inc.channel_id}> (http_500): posted in <#C0INCIDENTS> "
            "instead") in event_text(event, "en")
    assert "No se pudo publicar el resumen del incidente" in event_text(event, "es")
    assert await _counted(bot, "incident.summary", "unavailable", "moved") == before + 1
    await bot.chatops.incidents.pacer.idle()
    assert len(_saying(slack, "C0INCIDENTS", "INC-1 · Investigating")) == 1


async def test_one_500_is_retried_in_place_and_is_not_a_failure(make_bot, slack, signer, target):
    bot = await _start(make_bot, target)
    slack.server_error("chat.postMessage", count=1)
    inc = await _incident(bot, slack, signer)
    assert inc.summary_ts in slack.pins(inc.channel_id)
    assert [m["ts"] for m in slack.messages(inc.channel_id)] == [inc.summary_ts]  # posted once
    await eventually(lambda: len(slack.messages("C0INCIDENTS")) == 1, timeout=30)
    assert await _failures(bot) == []
    assert [e for e in await store.timeline(bot.rt.store, inc.id) if e.kind == "post_failed"] == []


async def test_429_past_the_client_retries_is_waited_out_then_moved_past_the_bound(make_bot, slack, signer, target):
    """The summary: four 429s (the client's own three retries, then Retry-After waited once more here)
    and it lands in place. The announcement: eight, past that bound, so it goes to the incident's own
    channel with a note."""
    bot = await _start(make_bot, target)
    slack.rate_limit("chat.postMessage", retry_after=0, count=4)
    slack.rate_limit("chat.postMessage", retry_after=0, count=8, channel="C0INCIDENTS")
    inc = await _incident(bot, slack, signer)
    tries = [c.status for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == inc.channel_id]
    assert tries[:5] == [429, 429, 429, 429, 200] and inc.summary_ts in slack.pins(inc.channel_id)

    moved = await eventually(lambda: _saying(slack, inc.channel_id, "couldn't post this in <#C0INCIDENTS>"),
                             timeout=30)
    assert len(moved) == 1 and "Slack did not accept it (ratelimited)" in _note(moved[0])
    assert "INC-1" in texts(moved[0]) and slack.messages("C0INCIDENTS") == []
    [row] = await eventually(lambda: _failures(bot), timeout=30)
    assert (row.name, row.outcome, row.channel_id) == ("post:incident.announcement",
                                                        "post_failed:unavailable:ratelimited", "C0INCIDENTS")
    assert [e.data["what"] for e in await _events(bot, inc.id)] == ["incident.announcement"]


async def test_archived_incident_channel(make_bot, slack, signer, target):
    """Archived mid-incident: the summary cannot be edited (is_inactive), so a copy in the incidents channel
    is kept current instead; the final summary and the postmortem cannot be posted (is_archived), so they
    go there too, each once."""
    bot = await _start(make_bot, target)
    incidents = bot.chatops.incidents
    inc = await _incident(bot, slack, signer)
    await incidents.pacer.idle()
    slack.workspace.archive(inc.channel_id)
    before = await _counted(bot, "incident.summary", "archived", "moved")

    await _send(bot, signer.slash_command("/incident", "note INC-1 the pool size env var is new", user_id="U0ANA",
                                          channel_id="C0GENERAL", response_url=slack.response_url()))
    [copy] = await eventually(lambda: _saying(slack, "C0INCIDENTS", "can't update my message"), timeout=30)
    assert f"I can't update my message in <#{inc.channel_id}>: the channel is archived" in _note(copy)
    assert "Unarchive it" in _note(copy) and "INC-1 · Investigating" in texts(copy)
    [update] = [c for c in slack.calls_to("chat.update") if c.params.get("channel") == inc.channel_id][-1:]
    assert update.response["error"] == "is_inactive"
    [row] = await eventually(lambda: _failures(bot, "incident.summary"), timeout=30)
    assert row.outcome == "post_failed:archived:is_inactive" and "posted in C0INCIDENTS instead" in row.detail
    [event] = await _events(bot, inc.id)
    assert (event.data["edit"], event.data["fallback"]) == (True, "moved")
    assert "Could not update the incident summary" in event_text(event, "en")
    assert await _counted(bot, "incident.summary", "archived", "moved") == before + 1

    # Later changes edit the copy (its note kept) instead of posting another one.
    footer = texts(copy).rsplit("Timeline:", 1)[1]
    await incidents.add_note(inc.id, "U0BOB", "note", "the env var came with dep-42")
    await incidents.pacer.idle()
    [copy] = _saying(slack, "C0INCIDENTS", "can't update my message")
    assert texts(copy).rsplit("Timeline:", 1)[1] != footer and "Unarchive it" in _note(copy)
    assert len(await _failures(bot, "incident.summary")) == 1  # reported once, not per edit

    # Resolved: the final summary and the postmortem go to the incidents channel, each once.
    await _send(bot, signer.slash_command("/incident", "resolve INC-1 the pool size env var", user_id="U0ANA",
                                          channel_id="C0GENERAL", response_url=slack.response_url()))
    final = await eventually(lambda: _final_summaries(slack, "C0INCIDENTS"), timeout=30)
    postmortem = await eventually(lambda: _saying(slack, "C0INCIDENTS", "# Postmortem"), timeout=30)
    assert len(final) == 1 and len(postmortem) == 1
    assert f"I couldn't post this in <#{inc.channel_id}>: the channel is archived" in _note(final[0])
    rows = await eventually(lambda: _failures_of(bot, "incident.final_summary", "incident.postmortem"), timeout=30)
    assert [r.outcome for r in rows] == ["post_failed:archived:is_archived"] * 2
    await eventually(lambda: _saying(slack, "C0INCIDENTS", "*INC-1* resolved"), timeout=30)
    what = [e.data["what"] for e in await _events(bot, inc.id, at_least=3)]
    assert what == ["incident.summary", "incident.final_summary", "incident.postmortem"]
    assert slack.messages(inc.channel_id) == [slack.message(inc.channel_id, inc.summary_ts)]  # nothing new there
    _no_secret(await _failures(bot))


@pytest.mark.parametrize("fault", ["500", "429"])
async def test_summary_edit_refused_past_its_retries_gets_a_copy_then_recovers(make_bot, slack, signer, target,
                                                                                fault):
    bot = await _start(make_bot, target)
    incidents = bot.chatops.incidents
    incidents.pacer.max_attempts = incidents.pacer.max_rate_limited = 2  # keep the test short
    inc = await _incident(bot, slack, signer)
    await incidents.pacer.idle()
    if fault == "500":
        slack.server_error("chat.update", count=2, channel=inc.channel_id)
    else:  # the client's own four tries, twice
        slack.rate_limit("chat.update", retry_after=0, count=8, channel=inc.channel_id)
    await incidents.add_note(inc.id, "U0ANA", "note", "checking the pool")
    await incidents.pacer.idle(timeout=60)
    [copy] = _saying(slack, "C0INCIDENTS", "can't update my message")
    error = "http_500" if fault == "500" else "ratelimited"
    assert f"Slack did not accept it ({error})" in _note(copy)
    [row] = await _failures(bot, "incident.summary")
    assert row.outcome == f"post_failed:unavailable:{error}"
    # Slack answers again: the summary itself is current, and no second copy appears.
    await incidents.add_note(inc.id, "U0ANA", "note", "pool resized")
    await incidents.pacer.idle(timeout=30)
    summary = slack.message(inc.channel_id, inc.summary_ts)
    assert texts(summary).rsplit("Timeline:", 1)[1] != texts(copy).rsplit("Timeline:", 1)[1]
    assert len(_saying(slack, "C0INCIDENTS", "can't update my message")) == 1
    assert len(await _failures(bot, "incident.summary")) == 1


# ---- the bot removed from a channel ------------------------------------------------------------------------


async def test_announcement_in_a_private_incidents_channel_the_bot_was_removed_from(make_bot, slack, signer,
                                                                                    target):
    incidents_channel = slack.workspace.channels["C0INCIDENTS"]
    incidents_channel.is_private, incidents_channel.everyone = True, False
    slack.workspace.remove_member("C0INCIDENTS", "U0BOT")
    bot = await _start(make_bot, target)
    inc = await _incident(bot, slack, signer)
    [moved] = await eventually(lambda: _saying(slack, inc.channel_id, "couldn't post this in <#C0INCIDENTS>"),
                               timeout=30)
    assert "it is a private channel I'm not in" in _note(moved) and "/invite <@U0BOT>" in _note(moved)
    assert "INC-1" in moved["text"]
    [row] = await eventually(lambda: _failures(bot, "incident.announcement"), timeout=30)
    assert row.outcome == "post_failed:private:channel_not_found"
    [event] = await _events(bot, inc.id)
    assert (event.data["channel"], event.data["where"]) == ("C0INCIDENTS", inc.channel_id)


async def test_bot_removed_from_the_incident_channel_and_not_allowed_to_join(make_bot, slack, signer, target):
    """Without chat:write.public, a public channel needs membership: the bot tries to join, Slack refuses
    (missing_scope: the app was installed without channels:join), so the post goes to the incidents channel."""
    for holder in (slack, slack.workspace):
        holder.scopes = tuple(s for s in holder.scopes if s not in ("chat:write.public", "channels:join"))
    bot = await _start(make_bot, target)
    inc = await _incident(bot, slack, signer)
    await bot.chatops.incidents.pacer.idle()
    slack.workspace.remove_member(inc.channel_id, "U0BOT")
    slack.fail("conversations.join", "missing_scope", count=5)
    await _send(bot, signer.slash_command("/incident", "resolve INC-1 a bad env var", user_id="U0ANA",
                                          channel_id="C0GENERAL", response_url=slack.response_url()))
    final = await eventually(lambda: _final_summaries(slack, "C0INCIDENTS"), timeout=30)
    assert len(final) == 1
    assert f"I couldn't post this in <#{inc.channel_id}>: I'm not a member of that channel" in _note(final[0])
    assert "/invite <@U0BOT>" in _note(final[0])
    rows = await eventually(lambda: _failures(bot, "incident.final_summary"), timeout=30)
    assert [r.outcome for r in rows] == ["post_failed:not_in_channel:not_in_channel"]
    joins = slack.calls_to("conversations.join")
    assert joins and all(c.params["channel"] == inc.channel_id for c in joins)


# ---- the alert's post -------------------------------------------------------------------------------------


async def _alert(bot, name: str) -> httpx.Response:
    body, content_type = payload(name)
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(f"{bot.url}/alerts/alertmanager/{ALERTS_TOKEN}", content=body,
                               headers={"Content-Type": content_type})
    assert resp.status_code == 202, resp.text
    return resp


async def test_alert_proposal_in_an_archived_channel_goes_to_the_incidents_channel(make_bot, slack, signer,
                                                                                   target):
    bot = await _start(make_bot, target)
    await _alert(bot, "alertmanager_firing.json")
    inc = await eventually(lambda: _with_summary(bot), timeout=30)
    await bot.chatops.incidents.pacer.idle()
    slack.workspace.archive(inc.channel_id)
    await _alert(bot, "alertmanager_resolved.json")
    [proposal] = await eventually(lambda: _saying(slack, "C0INCIDENTS", "couldn't post this"), timeout=30)
    assert ActionId.INCIDENT_RESOLVE in action_ids(proposal)  # it can be resolved from there
    assert f"I couldn't post this in <#{inc.channel_id}>: the channel is archived" in _note(proposal)
    rows = await eventually(lambda: _failures(bot, "alert.resolution"), timeout=30)
    assert [r.outcome for r in rows] == ["post_failed:archived:is_archived"]
    assert "alert.resolution" in [e.data["what"] for e in await _events(bot, inc.id, at_least=2)]
    # The summary (which offers Resolve too now) cannot be edited there either: one copy beside it.
    await bot.chatops.incidents.pacer.idle()
    assert len(_saying(slack, "C0INCIDENTS", "couldn't post this")) == 1
    [copy] = _saying(slack, "C0INCIDENTS", "can't update my message")
    assert ActionId.INCIDENT_RESOLVE in action_ids(copy)


async def test_alert_opening_an_incident_with_the_incidents_channel_answering_500(make_bot, slack, signer,
                                                                                  target):
    bot = await _start(make_bot, target)
    slack.server_error("chat.postMessage", count=2, channel="C0INCIDENTS")  # the announcement and its retry
    await _alert(bot, "alertmanager_firing.json")
    inc = await eventually(lambda: _with_summary(bot), timeout=30)
    [moved] = await eventually(lambda: _saying(slack, inc.channel_id, "couldn't post this in <#C0INCIDENTS>"),
                               timeout=30)
    assert "Slack did not accept it (http_500)" in _note(moved) and "INC-1" in moved["text"]
    rows = await eventually(lambda: _failures(bot), timeout=30)
    assert [(r.name, r.outcome) for r in rows] == [("post:incident.announcement", "post_failed:unavailable:http_500")]
    # Each message once: the summary in the incident's channel, the announcement beside it, none in #incidents.
    assert [m["ts"] for m in slack.messages(inc.channel_id)] == [inc.summary_ts, moved["ts"]]
    assert slack.messages("C0INCIDENTS") == []


async def _with_summary(bot):
    inc = await store.open_for_service(bot.rt.store, "backend")
    return inc if inc and inc.summary_ts else None


# ---- charts ------------------------------------------------------------------------------------------------


async def test_a_chart_refused_is_audited_as_failed(slack):
    """A chart is an addition to a message that stands alone: no fallback, but never silent."""
    from bot.runtime import build_slack_client
    from tests.conftest import bot_settings

    slack.workspace.archive("C0OPS")
    rows: list[dict] = []
    client = build_slack_client(bot_settings(slack.url, "sqlite://"))
    async with httpx.AsyncClient() as http:
        shared = await share_file(client, http, channel="C0OPS", content=b"\x89PNG", filename="health.png",
                                  title="Health", alt_text="health", audit=lambda **row: rows.append(row))
    assert shared is None and slack.shared_files("C0OPS") == []
    [row] = rows
    assert (row["name"], row["outcome"]) == ("post:chart", "post_failed:archived:is_archived")
    assert "files.completeUploadExternal" in row["detail"]


# ---- the Request rollback button ---------------------------------------------------------------------------


async def _rollback_incident(make_bot, slack, signer, rollback_env, extra: str):
    bot = await make_bot(rollback_env.config() + extra, **rollback_env.settings())
    bot.chatops.incidents.playbook_runner = None
    inc = await _incident(bot, slack, signer)

    async def offered():
        current = await store.get(bot.rt.store, inc.id)
        message = slack.message(current.channel_id, current.summary_ts)
        return message if message and ActionId.INCIDENT_ROLLBACK in action_ids(message) else None
    summary = await eventually(offered, timeout=30)
    await bot.chatops.incidents.pacer.idle()
    return bot, inc, summary, offered


async def _click_rollback(bot, slack, signer, inc, summary, user: str = "U0ANA") -> None:
    await _send(bot, signer.block_actions(ActionId.INCIDENT_ROLLBACK.value, str(inc.id), user_id=user,
                                          channel_id=inc.channel_id, message_ts=summary["ts"], message=summary,
                                          response_url=slack.response_url("actions", channel=inc.channel_id,
                                                                          message_ts=summary["ts"])))


async def _click_outcomes(bot) -> list[str] | None:
    await bot.rt.audit.flush(timeout=30)
    rows = [r.outcome for r in await audit.entries(bot.rt.store) if r.name == ActionId.INCIDENT_ROLLBACK.value]
    return rows if rows and "received" not in rows else None


async def _requests(bot) -> list:
    from sqlalchemy import select

    from bot.store.models import ActionRequest
    async with bot.rt.store.session() as session:
        return list((await session.scalars(select(ActionRequest).order_by(ActionRequest.created_at))).all())


async def test_request_rollback_click_refused_by_slack_tells_the_clicker(make_bot, slack, signer, rollback_env):
    bot, inc, summary, offered = await _rollback_incident(make_bot, slack, signer, rollback_env, RAILWAY_INCIDENTS)
    slack.server_error("chat.postMessage", count=1, channel=inc.channel_id)
    await _click_rollback(bot, slack, signer, inc, summary)
    said = await eventually(lambda: _told(slack, "Slack did not accept the rollback request for `backend`"),
                            timeout=30)
    assert "(http_500)" in said and "Nothing is pending" in said and "click Request rollback again" in said
    assert "/rollback backend` in <#C0INCIDENTS>" in said
    assert await eventually(lambda: _click_outcomes(bot), timeout=30) == ["rollback_not_posted:unavailable"]
    [req] = await _requests(bot)
    assert req.status == actions.CANCELLED and await actions.pending_for(bot.rt.store, "backend", "rollback") is None
    [event] = await _events(bot, inc.id, "rollback_not_posted")
    assert event.actor == "U0ANA" and "Slack did not accept it (http_500)" in event_text(event, "en")
    assert [r.outcome for r in await _failures(bot, "change.request")] == ["post_failed:unavailable:http_500"]
    assert slack.messages("C0INCIDENTS")[1:] == []  # Slack was failing: nothing else was tried

    # The button is still there, and a second click (Slack answering again) posts the request once.
    summary = await eventually(offered, timeout=30)
    await _click_rollback(bot, slack, signer, inc, summary)
    request = await eventually(lambda: [m for m in slack.messages(inc.channel_id)
                                        if ActionId.ROLLBACK_APPROVE in action_ids(m)], timeout=30)
    assert len(request) == 1
    assert (await _requests(bot))[-1].status == actions.PENDING


async def test_request_rollback_click_in_an_archived_channel_is_posted_in_the_incidents_channel(
        make_bot, slack, signer, rollback_env):
    bot, inc, summary, _ = await _rollback_incident(make_bot, slack, signer, rollback_env, RAILWAY_INCIDENTS)
    slack.workspace.archive(inc.channel_id)
    await _click_rollback(bot, slack, signer, inc, summary)
    said = await eventually(lambda: _told(slack, "so I posted it in <#C0INCIDENTS> for approval"), timeout=30)
    assert "an archived channel" in said
    request = await eventually(lambda: [m for m in slack.messages("C0INCIDENTS")
                                        if ActionId.ROLLBACK_APPROVE in action_ids(m)], timeout=30)
    assert len(request) == 1
    assert await eventually(lambda: _click_outcomes(bot), timeout=30) == ["rollback_requested"]
    [req] = await _requests(bot)
    assert (req.status, req.channel_id) == (actions.PENDING, "C0INCIDENTS")


async def test_request_rollback_click_with_nowhere_to_post_tells_the_clicker_in_spanish(make_bot, slack, signer,
                                                                                       rollback_env):
    bot, inc, summary, _ = await _rollback_incident(make_bot, slack, signer, rollback_env,
                                                    RAILWAY_NO_INCIDENTS_CHANNEL)
    slack.workspace.archive(inc.channel_id)
    await _click_rollback(bot, slack, signer, inc, summary, user="U0ESP")  # Slack locale es-ES
    said = await eventually(lambda: _told(slack, "No pude publicar la solicitud de rollback para `backend`"),
                            timeout=30)
    assert "en el canal de INC-1: está archivado" in said and "No queda nada pendiente" in said
    assert "Pídelo con `/rollback backend` en otro canal" in said
    assert await eventually(lambda: _click_outcomes(bot), timeout=30) == ["rollback_not_posted:archived"]
    [req] = await _requests(bot)
    assert req.status == actions.CANCELLED
    assert [e.data["failure"] for e in await _events(bot, inc.id, "rollback_not_posted")] == ["archived"]


# ---- a message Slack refuses as such --------------------------------------------------------------------


async def test_a_refused_message_goes_out_shortened_as_plain_text_in_place(make_bot, slack, signer, target):
    """msg_too_long or invalid_blocks: the same message would be refused anywhere, so its text alone,
    shortened, goes where it was meant to (an edit drops the blocks), once; the next edit brings them back."""
    bot = await _start(make_bot, target)
    incidents = bot.chatops.incidents
    inc = await _incident(bot, slack, signer)
    await incidents.pacer.idle()
    slack.fail("chat.update", "invalid_blocks", count=1, channel=inc.channel_id)
    await incidents.add_note(inc.id, "U0ANA", "note", "first look")
    await incidents.pacer.idle()
    edits = [c for c in slack.calls_to("chat.update") if c.params["channel"] == inc.channel_id]
    refused = next(i for i, c in enumerate(edits) if c.response.get("error") == "invalid_blocks")
    shortened_edit = edits[refused + 1]  # at once, the text alone
    assert shortened_edit.ok and shortened_edit.params["blocks"] == []
    assert shortened_edit.params["text"].startswith("INC-1 · Investigating")
    [row] = await _failures(bot, "incident.summary")
    assert row.outcome == "post_failed:refused:invalid_blocks" and "posted shortened, as plain text" in row.detail
    await incidents.add_note(inc.id, "U0ANA", "note", "second look")
    await incidents.pacer.idle()
    assert slack.message(inc.channel_id, inc.summary_ts)["blocks"]  # whole again

    slack.fail("chat.postMessage", "msg_too_long", count=1, channel=inc.channel_id)
    await _send(bot, signer.slash_command("/incident", "resolve INC-1 the pool", user_id="U0ANA",
                                          channel_id="C0GENERAL", response_url=slack.response_url()))
    final = await eventually(lambda: [m for m in slack.messages(inc.channel_id)[1:] if not m["blocks"]], timeout=30)
    assert len(final) == 1 and "INC-1" in final[0]["text"]
    outcomes = {r.name: r.outcome for r in await eventually(lambda: _failures(bot, "incident.final_summary"),
                                                                 timeout=30)}
    assert outcomes == {"post:incident.final_summary": "post_failed:refused:msg_too_long"}
    [event] = [e for e in await _events(bot, inc.id, at_least=2) if e.data["what"] == "incident.final_summary"]
    assert "shortened to plain text" in event_text(event, "en")
    assert slack.messages("C0INCIDENTS")[1:] and not _saying(slack, "C0INCIDENTS", "couldn't post")  # not moved


def test_shortened_text_never_splits_an_entity_or_an_escape():
    from bot.slack.post import shortened
    from sandbox.emulators.slack_workspace import markup_problems

    for tail in ("<@U0ANA> asked", "<#C0OPS>", "&amp; more", "`code span` after", "<!date^1796022625^{time}|x>"):
        text = "x" * 95 + tail + " and more words" * 10
        for limit in range(96, 130):
            cut = shortened(text, limit)
            assert len(cut) <= limit and cut.endswith(("…", "…`"))
            assert cut.replace("```", "").count("`") % 2 == 0
            assert markup_problems(cut, "/text") == []  # what the strict emulator (as Slack) would refuse
    assert shortened("short", 100) == "short"
    assert markup_problems("x" * 95 + "<@U0A", "/text")  # the check does see a split entity
