"""The App Home tab end to end: signed Events API requests, views.publish on the Slack emulator, and
Approve/Reject from Home through the same exactly-once path as the channel's buttons."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.home.render import MAX_APPROVALS, MAX_INCIDENTS, MAX_SERVICES, HomeData, IncidentLine, ServiceState, home_view
from bot.render.blocks import MAX_VIEW_BLOCKS, block_problems
from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from bot.store import incidents as incident_store
from bot.store.models import utcnow
from tests.conftest import eventually
from tests.rollback_env import DEFAULT_TARGET

CHANNEL = "C0OPS"
JSON = "application/json"


async def _post(bot, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def _open_home(bot, slack, signer, user: str) -> dict:
    before = len(slack.calls_to("views.publish"))
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await slack.open_home(user, bot.slack_url, signer, http)
    assert resp.status_code == 200
    calls = await eventually(lambda: slack.calls_to("views.publish")[before:] or None, timeout=30)
    assert calls[0].ok, calls[0].response
    return slack.home_view(user)


async def _rollback_request(bot, slack, signer, user: str = "U0ANA") -> str:
    before = len(slack.calls_to("chat.postMessage"))
    req = signer.slash_command("/rollback", 'backend --reason "bad deploy"', user_id=user, channel_id=CHANNEL,
                               response_url=slack.response_url(channel=CHANNEL))
    assert (await _post(bot, req)).status_code == 200
    posted = await slack.wait_for(lambda: slack.calls_to("chat.postMessage")[before:] or None, timeout=30)
    message = slack.message(CHANNEL, posted[0].response["ts"])
    return next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])


def _text(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def _buttons(view: dict, action: ActionId) -> list[str]:
    return [e["value"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
            if e["action_id"] == action.value]


async def test_opening_home_publishes_one_view_with_services_incidents_and_what_waits_for_that_person(
        make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    request_id = await _rollback_request(bot, slack, signer)
    opened = await incident_store.open_incident(bot.rt.store, service="backend", title="Checkout 502s",
                                                severity="sev1", source="manual", lang="en", opened_by="U0ANA",
                                                impact={}, impact_started_at=utcnow(), detected_at=utcnow())
    await incident_store.set_fields(bot.rt.store, opened.incident.id, commander="U0LEO", channel_id="C0INC")

    view = await _open_home(bot, slack, signer, "U0LEO")
    assert [c.params["user_id"] for c in slack.calls_to("views.publish")] == ["U0LEO"]  # one, for that person
    assert view["type"] == "home" and len(view["blocks"]) <= MAX_VIEW_BLOCKS
    text = _text(view)
    assert "*backend*" in text and "*frontend*" in text and "not checked yet" in text
    assert "SEV1" in text and "Checkout 502s" in text and "<@U0LEO>" in text and "<#C0INC>" in text
    assert "Waiting for your approval" in text and "<@U0ANA>" in text and "bad deploy" in text
    assert _buttons(view, ActionId.HOME_APPROVE) == [request_id] == _buttons(view, ActionId.HOME_REJECT)

    # The requester may not approve their own request: nothing waits for them, they see it as theirs.
    view = await _open_home(bot, slack, signer, "U0ANA")
    assert _buttons(view, ActionId.HOME_APPROVE) == []
    assert "Nothing waits for you." in _text(view) and f"`{request_id}`" in _text(view)
    # Someone who is not an approver sees no buttons either.
    assert _buttons(await _open_home(bot, slack, signer, "U0ZED"), ActionId.HOME_APPROVE) == []

    await bot.rt.audit.flush()
    story = [(r.kind, r.name, r.user_id, r.outcome) for r in await audit.entries(bot.rt.store)]
    assert ("event", "app_home_opened", "U0LEO", "published") in story


async def test_home_is_in_the_persons_language(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    await bot.rt.user_languages.language("U0ESP", "en")  # the locale lookup users.info would do after an ack
    view = await _open_home(bot, slack, signer, "U0ESP")
    assert "De un vistazo" in _text(view) and "Servicios" in _text(view) and "Esperan tu aprobación" in _text(view)


async def test_approving_from_home_runs_the_change_exactly_once(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    request_id = await _rollback_request(bot, slack, signer)
    view = await _open_home(bot, slack, signer, "U0LEO")
    click = signer.home_action(ActionId.HOME_APPROVE.value, request_id, user_id="U0LEO", view=view)
    assert (await _post(bot, click)).status_code == 200
    done = await eventually(lambda: _final(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED and done.decided_by == "U0LEO"
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    assert rollback_env.railway.mutations("deploymentRollback")[0].variables["id"] == DEFAULT_TARGET
    after = await eventually(lambda: _shows(slack, "U0LEO", "You approved"), timeout=30)
    assert _buttons(after, ActionId.HOME_APPROVE) == []  # decided: no longer waiting

    # A second approver clicking the same (stale) Home view changes nothing and is told why.
    second = signer.home_action(ActionId.HOME_APPROVE.value, request_id, user_id="U0MAY", view=view)
    assert (await _post(bot, second)).status_code == 200
    await eventually(lambda: _shows(slack, "U0MAY", "already"), timeout=30)
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1

    # The same click delivered twice (a replay) is refused before it reaches the flow.
    assert (await _post(bot, click)).status_code == 200
    await bot.rt.jobs.join()
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    await bot.rt.audit.flush()
    story = [(r.name, r.user_id, r.outcome) for r in await audit.entries(bot.rt.store) if r.kind == "action"]
    assert (ActionId.HOME_APPROVE.value, "U0LEO", "approved") in story
    assert (ActionId.HOME_APPROVE.value, "U0MAY", "already_decided") in story
    assert (ActionId.HOME_APPROVE.value, "U0LEO", "replay") in story


async def test_rejecting_from_home_follows_the_channels_rules(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    request_id = await _rollback_request(bot, slack, signer)
    view = await _open_home(bot, slack, signer, "U0ZED")
    # A non-approver's forged click is refused, and the request stays pending.
    forged = signer.home_action(ActionId.HOME_REJECT.value, request_id, user_id="U0ZED", view=view)
    assert (await _post(bot, forged)).status_code == 200
    await eventually(lambda: _shows(slack, "U0ZED", "may decide on production changes"), timeout=30)
    assert (await actions.get(bot.rt.store, request_id)).status == actions.PENDING
    view = await _open_home(bot, slack, signer, "U0LEO")
    reject = signer.home_action(ActionId.HOME_REJECT.value, request_id, user_id="U0LEO", view=view)
    assert (await _post(bot, reject)).status_code == 200
    await eventually(lambda: _final(bot, request_id), timeout=30)
    assert (await actions.get(bot.rt.store, request_id)).status == actions.REJECTED
    assert rollback_env.railway.mutations("deploymentRollback") == []


async def test_home_refreshes_by_itself_when_something_in_it_changes(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    await _open_home(bot, slack, signer, "U0LEO")
    await bot.chatops.home.refresh_when_changed()  # the first check remembers the state it saw
    published = len(slack.calls_to("views.publish"))
    await bot.chatops.home.refresh_when_changed()
    assert len(slack.calls_to("views.publish")) == published  # nothing changed: nothing published
    request_id = await _rollback_request(bot, slack, signer)
    await bot.chatops.home.refresh_when_changed()
    assert len(slack.calls_to("views.publish")) == published + 1
    assert _buttons(slack.home_view("U0LEO"), ActionId.HOME_APPROVE) == [request_id]


async def test_the_events_api_handshake_and_bad_bodies(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    resp = await _post(bot, signer.url_verification(challenge))
    assert resp.status_code == 200 and resp.json()["challenge"] == challenge
    bad_user = {"type": "app_home_opened", "user": "x" * 40, "tab": "home"}
    for body in (b"{not json", b"[]", json.dumps({"type": "app_rate_limited"}).encode(),
                 json.dumps({"type": "event_callback", "event": bad_user}).encode()):
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.post(bot.slack_url, content=body, headers=signer.sign(body, content_type=JSON))
        assert resp.status_code == 400, body
    # An event the app does not act on is acknowledged (Slack would retry anything else) and ignored.
    other = signer.event_callback({"type": "message", "user": "U0ANA", "channel": CHANNEL, "text": "hi"})
    assert (await _post(bot, other)).status_code == 200
    assert slack.calls_to("views.publish") == []


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_crowded_home_stays_within_slacks_limits(lang):
    from bot.store.models import ActionRequest

    now = utcnow()
    requests = [ActionRequest(id=f"r{i:015d}", action="rollback", service=f"svc-{i}", status="pending",
                              requested_by="U0ANA", reason="x" * 500, channel_id=CHANNEL, created_at=now,
                              expires_at=now, target_deployment={"id": "dep"}) for i in range(40)]
    data = HomeData(services=[ServiceState(f"svc-{i}", "down", "db_down_now", now) for i in range(60)],
                    incidents=[IncidentLine(i, f"svc-{i}", "t" * 200, "sev1", "investigating", None, None)
                               for i in range(30)],
                    to_approve=requests, own=requests, notice="n" * 5000)
    view = home_view(data, lang, now)
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS and block_problems(view["blocks"], max_blocks=MAX_VIEW_BLOCKS) == []
    text = _text(view)
    assert text.count("home-act-") == MAX_APPROVALS
    assert f"{60 - MAX_SERVICES} " in text and f"{30 - MAX_INCIDENTS} " in text


async def _final(bot, request_id):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


def _shows(slack, user: str, fragment: str) -> dict | None:
    view = slack.home_view(user)
    return view if view and fragment in _text(view) else None
