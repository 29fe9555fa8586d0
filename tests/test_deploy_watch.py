"""The deploy watch through the real bot: polling and Railway's (unsigned) webhooks, with the Railway,
target and Slack emulators. A failing deployment opens an incident offering an approval-gated rollback;
the webhook route checks its token, its project, duplicates and order, and trusts only the API."""

from __future__ import annotations

import httpx

from bot.slack.action_ids import ActionId
from bot.store import incidents as store
from tests.conftest import eventually
from tests.test_incidents_outage import ENVIRONMENT, PROJECT, SERVICE, action_ids, texts

pytest_plugins = ["tests.incident_fixtures"]

TOKEN = "whk-5f0c2a9e7d1b4c3a8e6f0a1b2c3d4e5f"
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

[approvals]
approvers = ["U0BOB"]

[monitor]
interval_seconds = 30
failures_to_open = 1
deploy_poll_seconds = {poll}
summary_interval_seconds = 0.1
"""


async def start(make_bot, target, railway, *, poll: float, **settings):
    text = CONFIG.format(url=target.url, project=PROJECT, environment=ENVIRONMENT, service=SERVICE, poll=poll)
    bot = await make_bot(text, RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN="railway-test", **settings)
    watch = bot.chatops.deploy_watch
    if poll < 5:
        await eventually(lambda: watch.polls >= 1, timeout=30)  # the first look only records what exists
    return bot, watch


def announcement(slack, deployment_id: str) -> dict | None:
    return next((m for m in slack.messages("C0INCIDENTS") if deployment_id in texts(m)), None)


async def test_crashed_deployment_opens_an_incident_offering_a_rollback(make_bot, slack, signer, target, railway):
    bot, _ = await start(make_bot, target, railway, poll=0.2)
    assert slack.messages("C0INCIDENTS") == []  # the deployments that already existed are not announced
    railway.world.add_deployment("backend", id="dep-bad", status="CRASHED",
                                 meta={"commitHash": "badc0ffee", "commitMessage": "feat: new pool", "branch": "main"})
    await target.close_port()  # the crashed deployment took the service down

    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    assert (inc.source, inc.severity, inc.impact["reason"], inc.deployment["id"]) == (
        "deploy", "sev1", "deploy_crashed", "dep-bad")
    request = await _request_rollback(bot, slack, signer, inc.id)
    assert {ActionId.ROLLBACK_APPROVE, ActionId.ROLLBACK_REJECT} <= action_ids(request)
    assert "dep-cur" in texts(request)  # back to the deployment that served before the crash
    assert "<@U0ANA>" in texts(request)  # whoever pressed the button asked; someone else approves
    inc = await store.get(bot.rt.store, inc.id)
    summary = await eventually(lambda: _text_has(slack, inc.channel_id, inc.summary_ts, inc.rollback_request_id),
                               timeout=30)
    assert ActionId.INCIDENT_ROLLBACK not in action_ids(summary)  # offered once, already requested
    await eventually(lambda: "INC-1" in texts(announcement(slack, "dep-bad") or {}), timeout=30)
    await target.open_port()


async def _request_rollback(bot, slack, signer, incident_id: int) -> dict:
    """Press the summary's Request rollback button as a responder; the request with Approve comes back."""
    async def offered():
        inc = await store.get(bot.rt.store, incident_id)
        message = slack.message(inc.channel_id, inc.summary_ts) if inc.channel_id and inc.summary_ts else None
        return message if message and ActionId.INCIDENT_ROLLBACK in action_ids(message) else None

    summary = await eventually(offered, timeout=30)
    inc = await store.get(bot.rt.store, incident_id)
    click = signer.block_actions(ActionId.INCIDENT_ROLLBACK.value, str(incident_id), user_id="U0ANA",
                                 channel_id=inc.channel_id, message_ts=summary["ts"], message=summary,
                                 response_url=slack.response_url("actions", channel=inc.channel_id))
    async with httpx.AsyncClient() as http:
        assert (await http.post(bot.slack_url, content=click.body, headers=click.headers)).status_code == 200
    return await eventually(lambda: _rollback_message(slack, bot, incident_id), timeout=30)


async def _rollback_message(slack, bot, incident_id):
    inc = await store.get(bot.rt.store, incident_id)
    if not inc.channel_id or not inc.rollback_request_id or inc.rollback_request_id == "pending":
        return None
    return next((m for m in slack.messages(inc.channel_id) if ActionId.ROLLBACK_APPROVE in action_ids(m)), None)


def _text_has(slack, channel, ts, needle):
    message = slack.message(channel, ts)
    return message if message and needle and needle in texts(message) else None


async def test_live_deployment_that_fails_verification_opens_an_incident(make_bot, slack, signer, target, railway):
    bot, _ = await start(make_bot, target, railway, poll=0.2)
    railway.world.add_deployment("backend", id="dep-good", status="SUCCESS",
                                 logs=[{"timestamp": "+1s", "message": "SERVER_BOOT_OK"}])
    await eventually(lambda: "live and healthy" in texts(announcement(slack, "dep-good") or {}), timeout=30)
    assert await store.open_for_service(bot.rt.store, "backend") is None

    railway.world.add_deployment("backend", id="dep-noisy", status="SUCCESS",
                                 logs=[{"timestamp": "+1s", "message": "FATAL: password authentication failed",
                                        "severity": "error"}])
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    assert (inc.impact["reason"], inc.deployment["id"], inc.probe_failed) == ("deploy_unverified", "dep-noisy", False)
    await _request_rollback(bot, slack, signer, inc.id)
    await eventually(lambda: "fails its checks" in texts(announcement(slack, "dep-noisy") or {}), timeout=30)


def webhook_body(deployment_id: str, kind: str, timestamp: str, *, project: str = PROJECT,
                 status: str | None = None) -> dict:
    details = {"id": deployment_id, "source": "GitHub", "branch": "main", "commitHash": "badc0ffee"}
    if status:
        details["status"] = status
    return {
        "type": f"Deployment.{kind}", "details": details, "severity": "WARNING", "timestamp": timestamp,
        "resource": {"workspace": {"id": "w-1", "name": "team"}, "project": {"id": project, "name": "shop"},
                     "environment": {"id": ENVIRONMENT, "name": "production", "isEphemeral": False},
                     "service": {"id": SERVICE, "name": "backend"}, "deployment": {"id": deployment_id}},
    }


async def post(bot, body: dict, token: str = TOKEN) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"{bot.url}/webhooks/railway/{token}", json=body)


async def test_webhook_route_checks_token_project_duplicates_and_order(make_bot, slack, target, railway):
    bot, _ = await start(make_bot, target, railway, poll=600, CHATOPS_WEBHOOK_TOKEN=TOKEN)
    reads = lambda: [c for c in railway.queries("deployment")]  # noqa: E731

    assert (await post(bot, webhook_body("dep-cur", "deployed", "2026-11-27T10:00:00.000Z"),
                       token="whk-wrong")).status_code == 404
    unknown = await post(bot, webhook_body("dep-cur", "crashed", "2026-11-27T10:00:00.000Z", project="p-other"))
    assert (unknown.status_code, unknown.json()) == (202, {"ignored": "project"})
    assert reads() == []  # neither acted on nor even read

    newer = webhook_body("dep-cur", "deployed", "2026-11-27T10:05:00.000Z", status="SUCCESS")
    first = await post(bot, newer)
    again = await post(bot, newer)
    assert (first.status_code, again.status_code, again.json()) == (202, 200, {"ignored": "duplicate"})
    older = await post(bot, webhook_body("dep-cur", "building", "2026-11-27T10:01:00.000Z", status="BUILDING"))
    assert (older.status_code, older.json()) == (202, {"ignored": "stale"})
    await eventually(lambda: len(reads()) == 1, timeout=30)
    assert reads()[0].variables == {"id": "dep-cur"}


async def test_webhook_is_checked_against_the_api_before_acting(make_bot, slack, signer, target, railway):
    bot, watch = await start(make_bot, target, railway, poll=600, CHATOPS_WEBHOOK_TOKEN=TOKEN)
    # A forged "crashed" for a deployment Railway says is fine: re-read, verified healthy, no incident.
    railway.world.add_deployment("backend", id="dep-fine", status="SUCCESS")
    forged = await post(bot, webhook_body("dep-fine", "crashed", "2026-11-27T11:00:00.000Z", status="CRASHED"))
    assert forged.status_code == 202
    await eventually(lambda: "live and healthy" in texts(announcement(slack, "dep-fine") or {}), timeout=30)
    assert await store.open_for_service(bot.rt.store, "backend") is None

    # A real crash, known only through the webhook (polling is off): the incident with its rollback offer.
    railway.world.add_deployment("backend", id="dep-crash", status="CRASHED")
    await target.close_port()
    real = await post(bot, webhook_body("dep-crash", "crashed", "2026-11-27T11:10:00.000Z"))
    assert real.status_code == 202
    inc = await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    assert inc.deployment["id"] == "dep-crash"
    await _request_rollback(bot, slack, signer, inc.id)
    assert watch.polls == 0  # it came through the webhook
    await target.open_port()


async def test_no_token_no_route(make_bot, slack, target, railway):
    bot, _ = await start(make_bot, target, railway, poll=600)
    response = await post(bot, webhook_body("dep-cur", "deployed", "2026-11-27T10:00:00.000Z"))
    assert response.status_code == 404
