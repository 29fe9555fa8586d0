"""/rollback end to end: signed requests, the Slack, Railway and target emulators, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from bot.store.models import ActionRequest, utcnow
from sandbox.runner import migrate_with_cli, start_server_process
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, eventually
from tests.rollback_env import CURRENT, DEFAULT_TARGET, FAILED, POSTGRES_DEPLOYMENT, RAILWAY_TOKEN

CHANNEL = "C0OPS"


async def _post(url: str, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, content=req.body, headers=req.headers)


async def _request(bot, slack, signer, text="backend --reason \"bad deploy\"", user="U0ANA") -> dict:
    """Send /rollback and return the posted request message (with its ts)."""
    before = len(slack.calls_to("chat.postMessage"))
    resp = await _post(bot.slack_url, signer.slash_command("/rollback", text, user_id=user, channel_id=CHANNEL,
                                                           response_url=slack.response_url(channel=CHANNEL)))
    assert resp.status_code == 200
    call = await slack.wait_for(lambda: slack.calls_to("chat.postMessage")[before:] or None)
    return slack.message(CHANNEL, call[0].response["ts"])


def _click(signer, slack, message: dict, action: ActionId, user: str):
    value = next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == action.value)
    return signer.block_actions(action.value, value, user_id=user, channel_id=CHANNEL, message_ts=message["ts"],
                                message=message, response_url=slack.response_url("actions", channel=CHANNEL,
                                                                                 message_ts=message["ts"]))


def _request_id(message: dict) -> str:
    return next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])


def _shows(slack, message: dict, text: str) -> dict | None:
    current = slack.message(CHANNEL, message["ts"])
    return current if text in json.dumps(current["blocks"], ensure_ascii=False) else None


def _ephemerals(slack) -> str:
    return json.dumps([r.payload for r in slack.responses], ensure_ascii=False)


async def _finished(bot, request_id):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


async def test_happy_path_is_approved_run_once_verified_and_audited(db_url, make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), database_url=db_url, **rollback_env.settings())
    message = await _request(bot, slack, signer)
    text = json.dumps(message["blocks"])
    assert CURRENT in text and DEFAULT_TARGET in text and "bad deploy" in text and "<@U0ANA>" in text
    approve = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == ActionId.ROLLBACK_APPROVE.value)
    assert approve["style"] == "primary" and approve["confirm"]["title"]["text"]

    resp = await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    assert resp.status_code == 200
    request_id = _request_id(message)
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED and done.verdict == "healthy", done.detail
    assert done.decided_by == "U0LEO"
    mutations = rollback_env.railway.mutations("deploymentRollback")
    assert len(mutations) == 1 and mutations[0].variables["id"] == DEFAULT_TARGET

    final = await eventually(lambda: _shows(slack, message, "Rolled back and healthy"))
    final_text = json.dumps(final["blocks"], ensure_ascii=False)
    assert "Approved by <@U0LEO>" in final_text
    assert not [b for b in final["blocks"] if b["type"] == "actions"]
    updates = [json.dumps(c.params, ensure_ascii=False) for c in slack.calls_to("chat.update")]
    assert any("Rolling back" in u for u in updates), updates  # buttons gone at once, then progress

    await bot.rt.audit.flush()
    rows = await audit.entries(bot.rt.store)
    story = [(r.kind, r.name, r.user_id, r.outcome) for r in rows]
    assert ("command", "/rollback", "U0ANA", "requested") in story
    assert ("action", ActionId.ROLLBACK_APPROVE.value, "U0LEO", "approved") in story
    system = [r for r in rows if r.kind == "system"]
    assert [(r.name, r.outcome, r.subject) for r in system] == [("railway.deploymentRollback", "ok", request_id)]
    kinds = [e.kind for e in await actions.events(bot.rt.store, request_id)]
    assert kinds[:4] == ["requested", "approved", "running", "railway.deploymentRollback.sent"]
    assert "railway.deploymentRollback.result" in kinds and kinds[-1] == "succeeded"


async def test_self_approval_and_non_approvers_are_refused(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(bot, slack, signer)
    for user in ("U0ANA", "U0BOB"):
        await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, user))
    await eventually(lambda: len(slack.responses) >= 2 or None)  # two refusals
    said = _ephemerals(slack)
    assert "someone else must approve" in said and "not on the list" in said
    req = await actions.get(bot.rt.store, _request_id(message))
    assert req.status == actions.PENDING
    assert rollback_env.railway.mutations("deploymentRollback") == []


async def test_only_approvers_may_reject_and_the_requester_may_withdraw(db_url, make_bot, slack, signer,
                                                                        rollback_env):
    bot = await make_bot(rollback_env.config(), database_url=db_url, **rollback_env.settings())
    message = await _request(bot, slack, signer)
    request_id = _request_id(message)
    # U0BOB is neither an approver nor the requester: neither the button nor the command rejects.
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_REJECT, "U0BOB"))
    await _post(bot.slack_url, signer.slash_command("/rollback", f"reject {request_id} no", user_id="U0BOB",
                                                    channel_id=CHANNEL,
                                                    response_url=slack.response_url(channel=CHANNEL)))
    await eventually(lambda: _ephemerals(slack).count("cannot reject") >= 2 or None)
    assert (await actions.get(bot.rt.store, request_id)).status == actions.PENDING
    assert "Reject" in json.dumps(slack.message(CHANNEL, message["ts"])["blocks"])  # buttons still there
    await bot.rt.audit.flush()
    refused = [r for r in await audit.entries(bot.rt.store) if r.user_id == "U0BOB"]
    assert [r.outcome for r in refused] == ["refused_not_approver", "refused_not_approver"]

    # An approver can still approve it.
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert (done.status, done.decided_by) == (actions.SUCCEEDED, "U0LEO")
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1

    # The requester may take their own request back.
    second = await _request(bot, slack, signer, text="backend", user="U0BOB")
    await _post(bot.slack_url, _click(signer, slack, second, ActionId.ROLLBACK_REJECT, "U0BOB"))
    withdrawn = await eventually(lambda: _finished(bot, _request_id(second)))
    assert (withdrawn.status, withdrawn.decided_by) == (actions.REJECTED, "U0BOB")
    assert "withdrawn" in [e.kind for e in await actions.events(bot.rt.store, withdrawn.id)]


async def test_a_usergroup_member_may_approve(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(bot, slack, signer)
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0MAY"))
    done = await eventually(lambda: _finished(bot, _request_id(message)), timeout=30)
    assert done.decided_by == "U0MAY" and done.status == actions.SUCCEEDED
    assert slack.calls_to("usergroups.users.list")


async def test_twenty_concurrent_approvals_reach_railway_once(db_url, make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(approvers='["U0LEO", "U0MAY", "U0SAM", "U0KIM"]'),
                         database_url=db_url, **rollback_env.settings())
    message = await _request(bot, slack, signer)
    clicks = [_click(signer, slack, message, ActionId.ROLLBACK_APPROVE, ["U0LEO", "U0MAY", "U0SAM", "U0KIM"][i % 4])
              for i in range(20)]
    answers = await asyncio.gather(*(_post(bot.slack_url, c) for c in clicks))
    assert all(a.status_code == 200 for a in answers)
    done = await eventually(lambda: _finished(bot, _request_id(message)), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    await bot.rt.jobs.join()
    await bot.rt.responses.drain(10)  # the answers leave after the job, outside the pool
    assert _ephemerals(slack).count("already") >= 19 - 1  # every loser is told (replayed ones excepted)


async def test_two_bot_processes_on_postgres_run_the_rollback_once(pg_url, slack, signer, rollback_env, tmp_path):
    """Two `chatops serve` processes (replicas) share the database; clicks land on both."""
    approvers = ["U0LEO", "U0MAY", "U0SAM", "U0KIM"]
    config = tmp_path / "chatops.toml"
    config.write_text(rollback_env.config(approvers=json.dumps(approvers)))
    env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": slack.api_url, "DATABASE_URL": pg_url, "CHATOPS_CONFIG": str(config),
           **{k: str(v) for k, v in rollback_env.settings().items()}}
    await migrate_with_cli(env, tmp_path)
    replicas = [await start_server_process(env, tmp_path), await start_server_process(env, tmp_path)]
    try:
        message = await _request(replicas[0], slack, signer)
        clicks = [(replicas[i % 2], _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, approvers[i % 4]))
                  for i in range(20)]
        answers = await asyncio.gather(*(_post(replica.slack_url, c) for replica, c in clicks))
        assert all(a.status_code == 200 for a in answers)
        await eventually(lambda: _shows(slack, message, "Rolled back and healthy"), timeout=30)
        await asyncio.sleep(0.5)
        assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    finally:
        for replica in replicas:
            await replica.stop()


async def test_expired_requests_refuse_clicks_and_say_so(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(bot, slack, signer)
    request_id = _request_id(message)
    async with bot.rt.store.session() as session:  # the request was made 31 minutes ago
        await session.execute(update(ActionRequest).where(ActionRequest.id == request_id)
                              .values(expires_at=utcnow() - timedelta(minutes=1)))
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(lambda: "expired" in _ephemerals(slack) or None)
    assert (await actions.get(bot.rt.store, request_id)).status == actions.EXPIRED
    assert await eventually(lambda: _shows(slack, message, "expired"))
    assert rollback_env.railway.mutations("deploymentRollback") == []


async def test_a_request_made_before_a_restart_can_be_approved_after_it(make_bot, slack, signer, rollback_env,
                                                                        sqlite_url):
    first = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(first, slack, signer)
    await first.stop()
    second = await make_bot(rollback_env.config(), database_url=sqlite_url, **rollback_env.settings())
    await _post(second.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(second, _request_id(message)), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1


async def test_a_rollback_in_flight_during_a_restart_is_resumed(make_bot, slack, signer, rollback_env, sqlite_url):
    settings = {**rollback_env.settings(), "CHATOPS_FOLLOW_POLL_SECONDS": 5.0}
    rollback_env.railway.world.stage_seconds = 2.0
    first = await make_bot(rollback_env.config(), **settings)
    message = await _request(first, slack, signer)
    await _post(first.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    request_id = _request_id(message)

    async def has_new_deployment():
        req = await actions.get(first.rt.store, request_id)
        return req if req.new_deployment_id else None

    await eventually(has_new_deployment, timeout=30)
    await first.stop()  # the process dies while following the deployment
    rollback_env.railway.world.stage_seconds = 0.05
    second = await make_bot(rollback_env.config(), database_url=sqlite_url, **rollback_env.settings())
    done = await eventually(lambda: _finished(second, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    assert any("following deployment" in json.dumps(c.params) for c in slack.calls_to("chat.postMessage"))


REPLICA = "\n[monitor]\nenabled = false\nlease_seconds = 3\n"


async def test_a_replica_starting_beside_one_that_runs_a_rollback_leaves_it_alone(pg_url, make_bot, slack, signer,
                                                                                   rollback_env):
    """A deploy's overlap: a second replica starts while the first waits for Railway's answer to the
    mutation (running, no new deployment yet). It waits for the change's lease instead of reporting the
    change as cut off by a restart, and the first one finishes it."""
    config = rollback_env.config() + REPLICA
    first = await make_bot(config, database_url=pg_url, **rollback_env.settings())
    rollback_env.railway.inject("slow", operation="deploymentRollback", delay=3.0)
    message = await _request(first, slack, signer)
    request_id = _request_id(message)
    await _post(first.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(lambda: rollback_env.railway.mutations("deploymentRollback"), timeout=30)
    second = await make_bot(config, database_url=pg_url, **rollback_env.settings())
    waiting = [task for task in second.rt.tasks if task.get_name() == f"rollback-{request_id}"]

    done = await eventually(lambda: _finished(first, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED, (done.verdict, done.detail)
    assert waiting  # it took the running change up, waited for the lease, saw it end, and did nothing
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    said = json.dumps([c.params for c in slack.calls_to("chat.postMessage")] + [slack.message(CHANNEL, message["ts"])])
    assert "Interrupted" not in said and "following deployment" not in said


async def test_a_rollback_whose_replica_stops_cleanly_is_carried_on_by_another(pg_url, make_bot, slack, signer,
                                                                               rollback_env, monkeypatch):
    """A scale-down: the replica following a rollback's deployment stops cleanly (its lease released).
    The replica left running finds the change nobody runs in its periodic look, and follows it to the end."""
    monkeypatch.setattr("bot.main.PERIODIC_SECONDS", 0.5)
    config = rollback_env.config() + REPLICA
    rollback_env.railway.world.stage_seconds = 2.0
    survivor = await make_bot(config, database_url=pg_url, **rollback_env.settings())
    leaving = await make_bot(config, database_url=pg_url, **rollback_env.settings())
    message = await _request(leaving, slack, signer)
    request_id = _request_id(message)
    await _post(leaving.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))

    async def followed():
        req = await actions.get(leaving.rt.store, request_id)
        return req if req.new_deployment_id else None

    await eventually(followed, timeout=30)
    await leaving.stop()
    rollback_env.railway.world.stage_seconds = 0.05
    done = await eventually(lambda: _finished(survivor, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED, (done.verdict, done.detail)
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    assert any("following deployment" in json.dumps(c.params) for c in slack.calls_to("chat.postMessage"))
    assert await eventually(lambda: _shows(slack, message, "Rolled back and healthy"), timeout=30)


async def test_a_rollback_that_fails_on_railway_gives_a_failing_verdict(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    rollback_env.railway.world.set_next_outcome("FAILED")
    message = await _request(bot, slack, signer)
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, _request_id(message)), timeout=30)
    assert done.status == actions.FAILED and done.verdict == "deploy_failed"
    assert await eventually(lambda: _shows(slack, message, "FAILED"))


async def test_railway_answering_5xx_to_the_mutation_is_never_retried(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(bot, slack, signer)
    rollback_env.railway.inject("server_error", status=502, operation="deploymentRollback")
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, _request_id(message)), timeout=30)
    assert done.status == actions.FAILED and done.verdict == "ambiguous"
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    assert await eventually(lambda: _shows(slack, message, "will not retry"))


@pytest.mark.parametrize(("fault", "expected"), [("rate_limit", "rate"), ("not_authorized", "Not Authorized"),
                                                  ("server_error", "Railway")])
async def test_railway_faults_while_preparing_give_a_clear_message(make_bot, slack, signer, rollback_env, fault,
                                                                   expected):
    bot = await make_bot(rollback_env.config(), **{**rollback_env.settings()})
    rollback_env.railway.inject(fault, count=None, retry_after=60)
    await _post(bot.slack_url, signer.slash_command("/rollback", "backend", user_id="U0ANA", channel_id=CHANNEL,
                                                    response_url=slack.response_url(channel=CHANNEL)))
    await eventually(lambda: slack.responses or None, timeout=30)
    said = _ephemerals(slack)
    assert expected.lower() in said.lower()
    assert slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("", "Usage"), ("nosuch", "don't know the service"), ("frontend", "no `railway` ids"),
    (f"backend {FAILED}", "can't be rolled back to"), (f"backend {POSTGRES_DEPLOYMENT}", "not one of this service"),
    (f"backend {CURRENT}", "the one running now"), ('backend --reason "unclosed', "quotes"),
])
async def test_bad_input_gets_a_clear_answer(make_bot, slack, signer, rollback_env, text, expected):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    resp = await _post(bot.slack_url, signer.slash_command("/rollback", text, user_id="U0ANA", channel_id=CHANNEL,
                                                           response_url=slack.response_url(channel=CHANNEL)))
    await bot.rt.jobs.join()
    await bot.rt.responses.drain(10)  # the answers leave after the job, outside the pool
    said = resp.text + _ephemerals(slack)
    assert expected in said
    assert slack.calls_to("chat.postMessage") == []


async def test_list_and_reject_with_a_reason(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    await _post(bot.slack_url, signer.slash_command("/rollback", "backend list", user_id="U0ANA", channel_id=CHANNEL,
                                                    response_url=slack.response_url(channel=CHANNEL)))
    listing = await eventually(lambda: [r for r in slack.responses if CURRENT in json.dumps(r.payload)] or None)
    assert DEFAULT_TARGET in json.dumps(listing[0].payload)
    message = await _request(bot, slack, signer)
    request_id = _request_id(message)
    await _post(bot.slack_url, signer.slash_command("/rollback", f"reject {request_id} the deploy is fine",
                                                    user_id="U0LEO", channel_id=CHANNEL,
                                                    response_url=slack.response_url(channel=CHANNEL)))
    req = await eventually(lambda: _finished(bot, request_id))
    assert (req.status, req.decided_by, req.decision_note) == (actions.REJECTED, "U0LEO", "the deploy is fine")
    assert await eventually(lambda: _shows(slack, message, "the deploy is fine"))


async def test_chat_update_failing_reports_in_the_thread(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(bot, slack, signer)
    slack.fail("chat.update", error="message_not_found", count=100)
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, _request_id(message)), timeout=30)
    assert done.status == actions.SUCCEEDED
    await eventually(lambda: any("healthy" in c.params["text"] for c in slack.calls_to("chat.postMessage")))
    threaded = [c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == message["ts"]]
    assert any("Rolled back and healthy" in c.params["text"] for c in threaded), [c.params["text"] for c in threaded]


async def test_nothing_posted_carries_a_secret(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(bot, slack, signer)
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(lambda: _finished(bot, _request_id(message)), timeout=30)
    posted = json.dumps([c.params for c in slack.calls] + [r.payload for r in slack.responses])
    world = rollback_env.railway.world
    secrets = [v for values in world.variables.values() for k, v in values.items()
               if any(w in k for w in ("SECRET", "KEY", "PASSWORD", "URL")) and len(v) > 8]
    assert secrets
    for secret in [*secrets, RAILWAY_TOKEN, BOT_TOKEN]:
        assert secret not in posted


@pytest.mark.parametrize(("kind", "mutation"), [("restart", "deploymentRestart"), ("redeploy", "deploymentRedeploy")])
async def test_a_playbook_offered_change_is_approval_gated_and_runs_once(make_bot, slack, signer, rollback_env,
                                                                         kind, mutation):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    offer = signer.block_actions(ActionId.PLAYBOOK_ACTION.value, f"{kind}:backend:memory", user_id="U0ANA",
                                 channel_id=CHANNEL, message_ts="1.0",
                                 response_url=slack.response_url("actions", channel=CHANNEL))
    await _post(bot.slack_url, offer)
    call = await slack.wait_for(lambda: slack.calls_to("chat.postMessage") or None)
    message = slack.message(CHANNEL, call[0].response["ts"])
    assert f"{kind.capitalize()} requested" in json.dumps(message["blocks"])
    assert rollback_env.railway.mutations(mutation) == []
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0ANA"))  # self: refused
    await _post(bot.slack_url, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, _request_id(message)), timeout=30)
    assert done.status == actions.SUCCEEDED and done.verdict == "healthy", done.detail
    assert len(rollback_env.railway.mutations(mutation)) == 1
    assert rollback_env.railway.mutations(mutation)[0].variables["id"] == CURRENT


async def test_a_second_request_for_the_same_service_points_to_the_pending_one(make_bot, slack, signer, rollback_env):
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    message = await _request(bot, slack, signer)
    await _post(bot.slack_url, signer.slash_command("/rollback", "backend", user_id="U0BOB", channel_id=CHANNEL,
                                                    response_url=slack.response_url(channel=CHANNEL)))
    said = await eventually(lambda: _ephemerals(slack) if "already waiting" in _ephemerals(slack) else None)
    assert _request_id(message) in said
    assert len(slack.calls_to("chat.postMessage")) == 1
