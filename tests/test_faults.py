"""Fault injection through the real bot: Slack (429, 5xx, hang) on each Web API method the bot uses,
response_url failures, Railway (5xx, timeout, GraphQL errors, 429) on each query and mutation the bot
and its CLI verbs send, the database dropped and restored or hung (accepting connections, answering
nothing), and a target that hangs. Each case asserts that the person is told, nothing is lost (the
audit row and the request's state say what happened) and nothing runs twice.

Timeouts are configured short (Slack and Railway calls: 0.5 s, database statements: 1 s) so a hang
costs the suite little.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from bot.store import incidents as incident_store
from tests.conftest import eventually
from tests.rollback_env import CURRENT, RAILWAY_TOKEN
from tests.tcp_proxy import TcpProxy

CHANNEL = "C0OPS"
SHORT = {"CHATOPS_SLACK_TIMEOUT_SECONDS": 0.5, "CHATOPS_RAILWAY_TIMEOUT_SECONDS": 0.5}
HANG = 2.0  # seconds a hung peer keeps the bot waiting: well past the 0.5 s the bot allows


# ---- helpers --------------------------------------------------------------------------------------------


async def _start(make_bot, rollback_env, *, database_url: str | None = None, approvers='["U0LEO", "S0SRE"]',
                 **settings):
    return await make_bot(rollback_env.config(approvers=approvers), database_url=database_url,
                          **{**rollback_env.settings(), **SHORT, **settings})


async def _post(bot, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def _command(bot, slack, signer, command: str, text: str, user: str = "U0ANA") -> httpx.Response:
    resp = await _post(bot, signer.slash_command(command, text, user_id=user, channel_id=CHANNEL,
                                                 response_url=slack.response_url(channel=CHANNEL)))
    assert resp.status_code == 200, resp.text
    return resp


def _delivered(slack) -> list[dict]:
    """What reached people through response_urls (not the posts a fault refused)."""
    return [r.payload for r in slack.responses if r.status == 200]


async def _told(slack, *phrases: str, timeout: float = 30.0) -> str:
    """Wait until some delivered response or channel message contains one of ``phrases``."""
    def said() -> str | None:
        text = json.dumps(_delivered(slack) + [c.params for c in slack.calls if c.method.startswith("chat.")],
                          ensure_ascii=False)
        return text if any(p in text for p in phrases) else None
    return await eventually(said, timeout=timeout)


async def _audit_outcomes(bot, name: str) -> list[str] | None:
    """The audit outcomes of every request called ``name``, once none is still just 'received'."""
    await bot.rt.audit.flush()
    outcomes = [r.outcome for r in await audit.entries(bot.rt.store) if r.name == name]
    return outcomes if outcomes and "received" not in outcomes else None


async def _request_message(bot, slack, signer, user: str = "U0ANA") -> dict:
    before = len(slack.calls_to("chat.postMessage"))
    await _command(bot, slack, signer, "/rollback", "backend --reason faults", user=user)
    call = await slack.wait_for(lambda: [c for c in slack.calls_to("chat.postMessage")[before:] if c.ok] or None,
                                timeout=30)
    # The request is complete once its job has recorded where the message is (after the post): a test
    # that cuts the database next must not cut it in between (that failed a loaded CI run).
    await bot.rt.jobs.join()
    message = slack.message(CHANNEL, call[0].response["ts"])
    req = await actions.get(bot.rt.store, _request_id(message))
    assert req is not None and req.message_ts == message["ts"]
    return message


def _click(signer, slack, message: dict, action: ActionId, user: str):
    value = next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == action.value)
    return signer.block_actions(action.value, value, user_id=user, channel_id=CHANNEL, message_ts=message["ts"],
                                message=message, response_url=slack.response_url("actions", channel=CHANNEL,
                                                                                 message_ts=message["ts"]))


def _request_id(message: dict) -> str:
    return next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])


async def _final(bot, request_id: str):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


def _slack_fault(slack, method: str, kind: str, count: int = 1) -> None:
    if kind == "429":
        slack.rate_limit(method, retry_after=0, count=count)
    elif kind == "500":
        slack.server_error(method, count=count)
    else:
        slack.hang(method, HANG, count=count)


# ---- Slack Web API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "500", "hang"])
async def test_chat_post_message_failing_for_a_rollback_request(make_bot, slack, signer, rollback_env, kind):
    bot = await _start(make_bot, rollback_env)
    _slack_fault(slack, "chat.postMessage", kind)
    await _command(bot, slack, signer, "/rollback", "backend")
    if kind == "429":  # retried after Retry-After: posted once, pending
        message = await slack.wait_for(lambda: slack.messages(CHANNEL) or None, timeout=30)
        assert len(message) == 1
        assert await eventually(lambda: _audit_outcomes(bot, "/rollback")) == ["requested"]
        return
    await _told(slack, "Nothing is pending")
    # Not left pending where nobody can see it: the next request is possible at once.
    assert await actions.pending_for(bot.rt.store, "backend", "rollback") is None
    outcomes = await eventually(lambda: _audit_outcomes(bot, "/rollback"))
    assert len(outcomes) == 1 and outcomes[0].startswith("not_posted")
    message = await _request_message(bot, slack, signer)
    assert "faults" in json.dumps(message["blocks"])
    assert rollback_env.railway.mutations() == []


@pytest.mark.parametrize("kind", ["429", "500", "hang"])
async def test_conversations_join_failing_when_the_bot_is_not_in_the_channel(make_bot, slack, signer,
                                                                             rollback_env, kind):
    bot = await _start(make_bot, rollback_env)
    slack.fail("chat.postMessage", "not_in_channel")  # the bot joins, then posts again
    _slack_fault(slack, "conversations.join", kind)
    await _command(bot, slack, signer, "/rollback", "backend")
    if kind == "429":
        await slack.wait_for(lambda: slack.messages(CHANNEL) or None, timeout=30)
        assert await eventually(lambda: _audit_outcomes(bot, "/rollback")) == ["requested"]
    else:
        await _told(slack, "Nothing is pending")
        assert await actions.pending_for(bot.rt.store, "backend", "rollback") is None
    assert rollback_env.railway.mutations() == []


@pytest.mark.parametrize("kind", ["429", "500", "hang"])
async def test_chat_update_failing_while_a_rollback_runs(make_bot, slack, signer, rollback_env, kind):
    bot = await _start(make_bot, rollback_env)
    message = await _request_message(bot, slack, signer)
    _slack_fault(slack, "chat.update", kind, count=100 if kind != "429" else 1)
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _final(bot, _request_id(message)), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    # Told: in the message itself, or (when it cannot be updated) in its thread.
    said = await _told(slack, "Rolled back and healthy")
    assert "Rolled back and healthy" in said


@pytest.mark.parametrize("kind", ["429", "500", "hang"])
async def test_usergroups_users_list_failing_when_a_group_member_approves(make_bot, slack, signer, rollback_env,
                                                                          kind):
    bot = await _start(make_bot, rollback_env)
    message = await _request_message(bot, slack, signer)
    _slack_fault(slack, "usergroups.users.list", kind)
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0MAY"))  # in S0SRE
    request_id = _request_id(message)
    if kind == "429":
        done = await eventually(lambda: _final(bot, request_id), timeout=30)
        assert (done.status, done.decided_by) == (actions.SUCCEEDED, "U0MAY")
    else:  # the group cannot be read: refused (fail closed), told, still pending for an approver
        await _told(slack, "not on the list")
        assert (await actions.get(bot.rt.store, request_id)).status == actions.PENDING
        await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
        done = await eventually(lambda: _final(bot, request_id), timeout=30)
        assert (done.status, done.decided_by) == (actions.SUCCEEDED, "U0LEO")
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1


@pytest.mark.parametrize("kind", ["429", "500", "hang"])
async def test_users_info_failing_the_answer_comes_in_the_channel_language(make_bot, slack, signer, rollback_env,
                                                                           kind):
    bot = await _start(make_bot, rollback_env)
    _slack_fault(slack, "users.info", kind, count=5)
    await _command(bot, slack, signer, "/health", "backend", user="U0ESP")
    await _told(slack, "backend")
    assert [p for p in _delivered(slack) if p.get("response_type") == "in_channel"]
    assert await eventually(lambda: _audit_outcomes(bot, "/health")) == ["ok"]


INCIDENT_CONFIG_EXTRA = '\n[incidents]\nchannel = "C0INCIDENTS"\nresponders = ["U0LEO"]\n'


@pytest.mark.parametrize("method", ["conversations.create", "conversations.invite", "pins.add",
                                    "conversations.info"])
@pytest.mark.parametrize("kind", ["429", "500", "hang"])
async def test_incident_slack_calls_failing_still_open_one_incident_and_say_so(make_bot, slack, signer,
                                                                               rollback_env, method, kind):
    config = rollback_env.config() + INCIDENT_CONFIG_EXTRA
    bot = await make_bot(config, **{**rollback_env.settings(), **SHORT})
    _slack_fault(slack, method, kind, count=3)
    await _command(bot, slack, signer, "/incident", "open backend checkout errors")
    await _told(slack, "INC-1")
    assert len(await incident_store.open_incidents(bot.rt.store)) == 1
    assert await eventually(lambda: _audit_outcomes(bot, "/incident")) == ["opened"]


@pytest.mark.parametrize("kind", ["500", "hang"])
async def test_auth_test_failing_at_startup_the_bot_still_answers(make_bot, slack, signer, rollback_env, kind):
    _slack_fault(slack, "auth.test", kind)
    bot = await _start(make_bot, rollback_env)
    await _command(bot, slack, signer, "/health", "backend")
    await _told(slack, "backend")
    assert await eventually(lambda: _audit_outcomes(bot, "/health")) == ["ok"]


# ---- response_url ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "hang"])
async def test_response_url_failing_nothing_lost_nothing_twice(make_bot, slack, signer, rollback_env, kind):
    bot = await _start(make_bot, rollback_env)
    if kind == "500":  # the first post and its one retry refused
        slack.fail_response_urls(500, count=2)
    else:  # slow, but within the bot's bound for one attempt
        slack.hang_response_urls(HANG, count=1)
    await _command(bot, slack, signer, "/health", "backend")
    assert await eventually(lambda: _audit_outcomes(bot, "/health"), timeout=30) == ["ok"]

    def copies() -> list[dict]:
        by_url = [p for p in _delivered(slack) if p.get("response_type") == "in_channel"]
        in_channel = [c.params for c in slack.calls_to("chat.postMessage") if c.ok]
        return by_url + in_channel
    shown = await eventually(copies, timeout=30)
    await bot.rt.jobs.join()
    assert len(copies()) == 1 and "backend" in json.dumps(shown)  # told once, never twice
    if kind == "500":  # it went to the channel instead, and the audit log says the URL failed
        assert await eventually(lambda: _audit_outcomes(bot, "response_url"), timeout=30) == ["failed"]
        assert len([r for r in slack.responses if r.status == 500]) == 2


# ---- Railway ----------------------------------------------------------------------------------------------

QUERY_CASES = {
    # operation: (command, text, what a healthy answer contains)
    "Deployments": ("/rollback", "backend list", CURRENT[:8]),
    "EnvironmentLogs": ("/logs", "backend --since 1h", "Logs of backend"),
    "Variables": ("/diagnose", "jwt backend", "jwt"),
    "Metrics": ("/diagnose", "memory backend", "memory"),
    "DeploymentLogs": ("/logs", f"backend --deployment {CURRENT}", "Logs of backend"),
    # The playbooks read the serving deployment (serviceInstance) before its logs.
    "ServiceInstance": ("/diagnose", "jwt backend", "jwt"),
}
RAILWAY_KINDS = ["server_error", "slow", "graphql_error"]
# What the person reads for each fault: the 502 page, the client's timeout, the gateway's GraphQL error
# (HTTP 200, {"data": null, "errors": [{"message": "Problem processing request", "traceId": …}]}).
FAULT_SAID = {"server_error": "HTTP 502", "slow": "did not answer within",
              "graphql_error": "Problem processing request"}
PROJECT_TOKEN = "demo-project-token"  # the demo world's token for ivan-reseller / production


def _faulted(railway, operation: str, kind: str) -> list:
    """The requests for ``operation`` that met the injected fault."""
    return [c for c in railway.calls if c.operation_name == operation and c.fault == kind]


def _clean(said: str) -> None:
    """Told clearly: no traceback, no token."""
    assert "Traceback" not in said
    assert RAILWAY_TOKEN not in said and PROJECT_TOKEN not in said


def _railway_fault(railway, kind: str, operation: str, count: int | None = None) -> None:
    railway.inject(kind, operation=operation, count=count, delay=HANG, status=502)


@pytest.mark.parametrize("kind", RAILWAY_KINDS)
@pytest.mark.parametrize("operation", list(QUERY_CASES))
async def test_railway_query_failing_the_person_is_told(make_bot, slack, signer, rollback_env, operation, kind):
    bot = await _start(make_bot, rollback_env)
    command, text, healthy = QUERY_CASES[operation]
    _railway_fault(rollback_env.railway, kind, operation)
    await _command(bot, slack, signer, command, text)
    said = await _told(slack, "Railway")
    said = await _told(slack, FAULT_SAID[kind])  # the fault itself, not just a word every answer has
    _clean(said)
    if command != "/diagnose":  # a playbook reports what it could not read as part of its findings
        assert healthy not in said
    assert _faulted(rollback_env.railway, operation, kind)  # the command really sends this query
    assert await eventually(lambda: _audit_outcomes(bot, command))  # the outcome is recorded, not lost
    # Live afterwards: the same command answers once Railway does.
    rollback_env.railway.clear_faults()
    before = len(_delivered(slack))
    await _command(bot, slack, signer, command, text)
    await eventually(lambda: len(_delivered(slack)) > before or None, timeout=30)
    assert healthy.lower() in json.dumps(_delivered(slack)[before:], ensure_ascii=False).lower()


@pytest.mark.parametrize("kind", RAILWAY_KINDS)
async def test_railway_resolve_failing_the_person_is_told(make_bot, slack, signer, rollback_env, kind):
    bot = await _start(make_bot, rollback_env)
    _railway_fault(rollback_env.railway, kind, "Projects")
    await _command(bot, slack, signer, "/rollback", "backend list")
    await _told(slack, "Railway")
    assert await eventually(lambda: _audit_outcomes(bot, "/rollback")) == ["error"]


MUTATIONS = {"DeploymentRollback": "rollback", "DeploymentRedeploy": "redeploy", "DeploymentRestart": "restart"}


async def _approved_change(bot, slack, signer, action: str) -> str:
    """Request ``action`` on backend (a playbook's offer for redeploy/restart), approve it; its id."""
    before = len(slack.calls_to("chat.postMessage"))
    if action == "rollback":
        await _command(bot, slack, signer, "/rollback", "backend")
    else:
        offer = signer.block_actions(ActionId.PLAYBOOK_ACTION.value, f"{action}:backend:memory", user_id="U0ANA",
                                     channel_id=CHANNEL, message_ts="1.0",
                                     response_url=slack.response_url("actions", channel=CHANNEL))
        assert (await _post(bot, offer)).status_code == 200
    call = await slack.wait_for(lambda: [c for c in slack.calls_to("chat.postMessage")[before:] if c.ok] or None,
                                timeout=30)
    message = slack.message(CHANNEL, call[0].response["ts"])
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    return _request_id(message)


@pytest.mark.parametrize("kind", [*RAILWAY_KINDS, "rate_limit"])
@pytest.mark.parametrize("operation", list(MUTATIONS))
async def test_railway_mutation_failing_runs_at_most_once_and_says_so(make_bot, slack, signer, rollback_env,
                                                                      operation, kind):
    bot = await _start(make_bot, rollback_env)
    railway = rollback_env.railway
    railway.inject(kind, operation=operation, count=1, delay=HANG, status=502, retry_after=0.1)
    request_id = await _approved_change(bot, slack, signer, MUTATIONS[operation])
    done = await eventually(lambda: _final(bot, request_id), timeout=30)
    sent = railway.mutations(operation[0].lower() + operation[1:])
    executed = [c for c in sent if c.fault is None]
    if kind == "rate_limit":  # refused before executing, retried once: done exactly once
        assert len(sent) == 2 and len(executed) == 1
        assert done.status == actions.SUCCEEDED
    else:  # ambiguous or refused: never retried, reported
        assert len(sent) == 1 and executed == []
        assert done.status in (actions.FAILED, actions.INTERRUPTED)
        await _told(slack, "Railway")
    # Nothing runs twice: a second approval of the same request changes nothing.
    await bot.rt.jobs.join()
    message = slack.message(CHANNEL, done.message_ts)
    again = signer.block_actions(ActionId.ROLLBACK_APPROVE.value, request_id, user_id="U0MAY", channel_id=CHANNEL,
                                 message_ts=done.message_ts, message=message,
                                 response_url=slack.response_url("actions", channel=CHANNEL,
                                                                 message_ts=done.message_ts))
    await _post(bot, again)
    await _told(slack, "already", "nothing changed")
    assert len(railway.mutations(operation[0].lower() + operation[1:])) == len(sent)


async def _approve_again_changes_nothing(bot, slack, signer, railway, done, request_id: str, mutation: str) -> None:
    """Nothing runs twice: a second approval of a finished request is refused and sends nothing."""
    sent = len(railway.mutations(mutation))
    await bot.rt.jobs.join()
    message = slack.message(CHANNEL, done.message_ts)
    again = signer.block_actions(ActionId.ROLLBACK_APPROVE.value, request_id, user_id="U0MAY", channel_id=CHANNEL,
                                 message_ts=done.message_ts, message=message,
                                 response_url=slack.response_url("actions", channel=CHANNEL,
                                                                 message_ts=done.message_ts))
    await _post(bot, again)
    await _told(slack, "already", "nothing changed")
    assert len(railway.mutations(mutation)) == sent


async def _system_outcomes(bot, name: str) -> list[str]:
    await bot.rt.audit.flush()
    return [r.outcome for r in await audit.entries(bot.rt.store) if r.kind == "system" and r.name == name]


@pytest.mark.parametrize("count", [1, None], ids=["once", "until_cleared"])
@pytest.mark.parametrize("kind", RAILWAY_KINDS)
async def test_railway_deployment_query_failing_while_a_rollback_is_followed(make_bot, slack, signer, rollback_env,
                                                                             kind, count):
    """``deployment(id)`` is how the runner follows the deployment a rollback created: Railway took the
    change already, so a failed read is read again, and only reads failing in a row end it as lost track
    (not "refused", not retried: it ran once)."""
    bot = await _start(make_bot, rollback_env)
    railway = rollback_env.railway
    message = await _request_message(bot, slack, signer)
    request_id = _request_id(message)
    _railway_fault(railway, kind, "Deployment", count=count)
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _final(bot, request_id), timeout=40)
    assert _faulted(railway, "Deployment", kind)
    assert len(railway.mutations("deploymentRollback")) == 1
    if count == 1:  # one hiccup: followed to the end, verified
        assert (done.status, done.verdict) == (actions.SUCCEEDED, "healthy")
        said = await _told(slack, "Rolled back and healthy")
    else:
        assert (done.status, done.verdict) == (actions.FAILED, "lost_track")
        assert done.new_deployment_id and FAULT_SAID[kind] in done.detail
        said = await _told(slack, "I won't send it again")
        assert FAULT_SAID[kind] in said and done.new_deployment_id in said
    _clean(said)
    assert await eventually(lambda: _audit_outcomes(bot, ActionId.ROLLBACK_APPROVE.value)) == ["approved"]
    assert await _system_outcomes(bot, "railway.deploymentRollback") == ["ok"]
    await _approve_again_changes_nothing(bot, slack, signer, railway, done, request_id, "deploymentRollback")


@pytest.mark.parametrize("kind", RAILWAY_KINDS)
async def test_railway_deployment_logs_failing_after_a_rollback_the_verdict_says_so(make_bot, slack, signer,
                                                                                   rollback_env, kind):
    """The verification reads the new deployment's logs (``deploymentLogs``): unreadable, the verdict says
    they were not checked instead of calling them clean."""
    bot = await _start(make_bot, rollback_env)
    railway = rollback_env.railway
    message = await _request_message(bot, slack, signer)
    request_id = _request_id(message)
    _railway_fault(railway, kind, "DeploymentLogs")
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _final(bot, request_id), timeout=40)
    assert _faulted(railway, "DeploymentLogs", kind)
    assert done.status == actions.SUCCEEDED and "logs not checked: Railway did not return them" in done.detail
    said = await _told(slack, "logs not checked: Railway did not return them")
    _clean(said)
    assert "no errors" not in said
    assert len(railway.mutations("deploymentRollback")) == 1
    assert await eventually(lambda: _audit_outcomes(bot, ActionId.ROLLBACK_APPROVE.value)) == ["approved"]
    await _approve_again_changes_nothing(bot, slack, signer, railway, done, request_id, "deploymentRollback")


@pytest.mark.parametrize("kind", RAILWAY_KINDS)
async def test_railway_project_token_query_failing_the_person_is_told(make_bot, slack, signer, rollback_env, kind):
    """With a project token (RAILWAY_TOKEN) the bot finds a service's ids through ``projectToken``."""
    railway = rollback_env.railway
    _railway_fault(railway, kind, "ProjectToken")  # from the start: the bot may read it while starting
    bot = await _start(make_bot, rollback_env, RAILWAY_TOKEN=PROJECT_TOKEN)
    await _command(bot, slack, signer, "/rollback", "backend list")
    said = await _told(slack, FAULT_SAID[kind])
    _clean(said)
    assert CURRENT[:8] not in said
    assert _faulted(railway, "ProjectToken", kind)
    assert await eventually(lambda: _audit_outcomes(bot, "/rollback")) == ["error"]
    railway.clear_faults()  # Railway answers again: so does the bot (a failed lookup is not cached)
    before = len(_delivered(slack))
    await _command(bot, slack, signer, "/rollback", "backend list")
    await eventually(lambda: len(_delivered(slack)) > before or None, timeout=30)
    assert CURRENT[:8] in json.dumps(_delivered(slack)[before:], ensure_ascii=False)
    assert {c.auth for c in railway.calls} == {"project"}
    assert railway.mutations() == []


CLI_CASES = {
    # operation: (argv after ``chatops``, what a healthy answer prints)
    "ProjectToken": (["railway", "deployments", "backend"], CURRENT),
    "DeploymentLogs": (["logs", "backend", "--deployment", CURRENT, "--since", "30d"], "Logs of backend"),
}


async def _chatops(tmp_path: Path, rollback_env, *argv: str) -> tuple[int, str, str]:
    """The real ``chatops`` entry point in a child process (a project token, calls bounded at 0.5 s)."""
    services = tmp_path / "chatops.toml"
    services.write_text(rollback_env.config(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAILWAY_", "CHATOPS_", "SLACK_", "DATABASE_"))}
    env.update(CHATOPS_CONFIG=str(services), CHATOPS_LANGUAGE="en", RAILWAY_API_URL=rollback_env.railway.graphql_url,
               RAILWAY_TOKEN=PROJECT_TOKEN, CHATOPS_RAILWAY_TIMEOUT_SECONDS="0.5", NO_COLOR="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("kind", RAILWAY_KINDS)
@pytest.mark.parametrize("operation", list(CLI_CASES))
async def test_railway_query_failing_the_cli_verb_says_so_and_exits_1(rollback_env, tmp_path, operation, kind):
    argv, healthy = CLI_CASES[operation]
    _railway_fault(rollback_env.railway, kind, operation)
    code, out, err = await _chatops(tmp_path, rollback_env, *argv)
    assert (code, out) == (1, ""), err
    sentence = err.strip().splitlines()[-1]  # after any "retry" warnings: the one sentence that says why
    assert sentence.startswith("chatops: ") and FAULT_SAID[kind] in sentence
    _clean(out + err)
    assert _faulted(rollback_env.railway, operation, kind)
    rollback_env.railway.clear_faults()
    code, out, err = await _chatops(tmp_path, rollback_env, *argv)
    assert code == 0 and healthy in out, err


# ---- the database -----------------------------------------------------------------------------------------


@pytest.fixture
async def proxied_pg(pg_url):
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    port = await proxy.start()
    yield proxy, pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{port}")
    await proxy.cut()


async def test_health_during_a_database_outage_gives_the_probe_report(proxied_pg, make_bot, slack, signer,
                                                                      rollback_env):
    proxy, url = proxied_pg
    bot = await _start(make_bot, rollback_env, database_url=url)
    await proxy.cut()
    await _command(bot, slack, signer, "/health", "backend")
    report = await eventually(lambda: [p for p in _delivered(slack) if p.get("response_type") == "in_channel"],
                              timeout=30)
    assert len(report) == 1 and "went wrong" not in json.dumps(report)
    await proxy.restore()
    assert await eventually(lambda: _audit_outcomes(bot, "/health"), timeout=30) == ["ok"]  # kept, then written


async def test_rollback_during_a_database_outage_is_refused_clearly_then_runs_once(proxied_pg, make_bot, slack,
                                                                                  signer, rollback_env):
    proxy, url = proxied_pg
    bot = await _start(make_bot, rollback_env, database_url=url)
    message = await _request_message(bot, slack, signer)
    request_id = _request_id(message)
    await proxy.cut()
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await _told(slack, "went wrong")  # told; nothing ran
    assert rollback_env.railway.mutations("deploymentRollback") == []
    await proxy.restore()
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _final(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    outcomes = await eventually(lambda: _audit_outcomes(bot, ActionId.ROLLBACK_APPROVE.value), timeout=30)
    assert outcomes == ["error", "approved"]


# A database that accepts connections (and keeps them) but never answers: statements are bounded at 1 s
# (CHATOPS_DB_TIMEOUT_SECONDS; asyncpg gives up a second later) instead of waiting forever.
DB_HANGS = {"CHATOPS_DB_TIMEOUT_SECONDS": 1}


async def _get(bot, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:  # the bound: an answer at all, never a hang
        return await http.get(bot.url + path)


def _reports(slack) -> list[dict]:
    return [p for p in _delivered(slack) if p.get("response_type") == "in_channel"]


async def test_a_database_that_never_answers_health_still_reports_and_no_audit_row_is_lost(
        proxied_pg, make_bot, slack, signer, rollback_env):
    proxy, url = proxied_pg
    bot = await _start(make_bot, rollback_env, database_url=url, **DB_HANGS)
    await _command(bot, slack, signer, "/health", "backend")
    assert await eventually(lambda: _audit_outcomes(bot, "/health"), timeout=30) == ["ok"]
    proxy.stall()
    await _command(bot, slack, signer, "/health", "backend")
    # The person gets the probe report: saving probe history and the audit row are bookkeeping.
    reports = await eventually(lambda: _reports(slack) if len(_reports(slack)) == 2 else None, timeout=30)
    assert "backend" in json.dumps(reports[1]) and "went wrong" not in json.dumps(reports[1])
    ready = await _get(bot, "/ready")
    assert ready.status_code == 503 and ready.json()["reason"] == "database unreachable"
    assert proxy.held  # the bot did speak to the database, and heard nothing back
    # The /health row waits in the audit writer's backlog (and /metrics shows it), not dropped.
    assert bot.rt.audit.backlog >= 1
    gauge = next(line for line in (await _get(bot, "/metrics")).text.splitlines()
                 if line.startswith("chatops_audit_backlog "))
    assert float(gauge.split()[1]) >= 1
    proxy.resume()  # the database answers again: so does everything
    assert await eventually(lambda: _audit_outcomes(bot, "/health"), timeout=30) == ["ok", "ok"]
    assert (await eventually(lambda: _ready(bot), timeout=30)).json() == {"status": "ready"}
    await _command(bot, slack, signer, "/health", "backend")
    assert await eventually(lambda: _audit_outcomes(bot, "/health"), timeout=30) == ["ok", "ok", "ok"]
    assert len(_reports(slack)) == 3


async def _ready(bot) -> httpx.Response | None:
    answer = await _get(bot, "/ready")
    return answer if answer.status_code == 200 else None


async def test_a_rollback_approved_while_the_database_never_answers_is_refused_clearly_then_runs_once(
        proxied_pg, make_bot, slack, signer, rollback_env):
    proxy, url = proxied_pg
    bot = await _start(make_bot, rollback_env, database_url=url, **DB_HANGS)
    message = await _request_message(bot, slack, signer)
    request_id = _request_id(message)
    assert await eventually(lambda: _audit_outcomes(bot, "/rollback")) == ["requested"]  # its work all done
    proxy.stall()
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    # Told, within the bound, that the decision could not be recorded; nothing ran.
    said = await _told(slack, f"`{ActionId.ROLLBACK_APPROVE.value}`: the bot's database did not answer in time, "
                              "so this could not be recorded", timeout=60)
    _clean(said)
    assert rollback_env.railway.mutations() == []
    proxy.resume()
    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _final(bot, request_id), timeout=40)
    assert done.status == actions.SUCCEEDED
    assert len(rollback_env.railway.mutations("deploymentRollback")) == 1
    outcomes = await eventually(lambda: _audit_outcomes(bot, ActionId.ROLLBACK_APPROVE.value), timeout=30)
    assert outcomes == ["error", "approved"]


async def test_the_database_hanging_before_a_rollback_is_recorded_as_sent_it_is_never_sent(
        proxied_pg, make_bot, slack, signer, rollback_env):
    """Approved and started, the runner reads Railway's deployments (slowed down here) and then records
    that it sends the mutation; the database stops answering in between. The mutation is not sent
    without that record: the person is told at once, and the request ends interrupted once the database
    answers, so nothing can start it later."""
    proxy, url = proxied_pg
    railway = rollback_env.railway
    bot = await _start(make_bot, rollback_env, database_url=url, CHATOPS_RAILWAY_TIMEOUT_SECONDS=15, **DB_HANGS)
    message = await _request_message(bot, slack, signer)
    request_id = _request_id(message)
    assert await eventually(lambda: _audit_outcomes(bot, "/rollback")) == ["requested"]
    railway.inject("slow", operation="Deployments", count=None, delay=3.0)

    def runner_reading() -> list:  # the runner's read before the mutation asks for 50 deployments
        return [c for c in _faulted(railway, "Deployments", "slow") if c.variables.get("first") == 50]

    await _post(bot, _click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(runner_reading, timeout=30)
    proxy.stall()
    said = await _told(slack, "was not sent to Railway", timeout=60)
    _clean(said)
    assert railway.mutations() == []
    proxy.resume()
    railway.clear_faults()
    done = await eventually(lambda: _final(bot, request_id), timeout=40)
    assert done.status == actions.INTERRUPTED and "not sent to Railway" in done.detail
    await _told(slack, "Interrupted")
    assert railway.mutations() == []
    assert await eventually(lambda: _audit_outcomes(bot, ActionId.ROLLBACK_APPROVE.value), timeout=30) == ["approved"]
    assert await _system_outcomes(bot, "railway.deploymentRollback") == ["not_sent"]
    await _approve_again_changes_nothing(bot, slack, signer, railway, done, request_id, "deploymentRollback")


# ---- the target -------------------------------------------------------------------------------------------


async def test_a_hanging_target_gives_a_bounded_report(make_bot, slack, signer, rollback_env):
    bot = await _start(make_bot, rollback_env, CHATOPS_PROBE_TIMEOUT_SECONDS=0.3, CHATOPS_PROBE_BUDGET_SECONDS=1)
    for path in ("/health", "/ready", "/api/health", "/api/system/health/detailed"):
        rollback_env.target.set_fault(path, "slow", ms=5000)
    await _command(bot, slack, signer, "/health", "backend")
    report = await eventually(lambda: [p for p in _delivered(slack) if p.get("response_type") == "in_channel"],
                              timeout=30)
    assert len(report) == 1
    assert await eventually(lambda: _audit_outcomes(bot, "/health")) == ["ok"]
    assert "0.3" in json.dumps(report) or "timed out" in json.dumps(report).lower() or "timeout" in json.dumps(
        report).lower()
