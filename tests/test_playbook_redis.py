"""The redis playbook: REDIS_URL against the Railway Redis service, a real PING (Redis at
127.0.0.1:6379), the connection errors in the logs attributed by address, and /ready/."""

from __future__ import annotations

import json
import re

import jsonschema

from playbooks import db, redis
from playbooks.base import Finding
from playbooks.registry import get_playbook, run_one
from tests import real_backend as real
from tests.playbook_env import REDIS_DEPLOYMENT_ID, REDIS_PASSWORD, base_world, environment
from tests.test_diagnose_cli import SCHEMA, _configure, _run

DOWN_URL = "redis://default:pw-for-the-outage-0123@127.0.0.1:6390"  # nothing listens on 6390


def _evidence(finding: Finding, fragment: str):
    found = [e for e in finding.evidence if fragment in e.check]
    assert found, [e.check for e in finding.evidence]
    return found[0]


def _redis_everywhere(env, url: str) -> None:
    """The backend's REDIS_URL and the Redis service's own URL both say ``url`` (a healthy wiring)."""
    env.set_variables(REDIS_URL=url)
    env.set_variables("Redis", REDIS_URL=url)


async def test_healthy_on_railways_private_network() -> None:
    async with environment() as env:
        finding = await redis.run(env.context())
    assert finding.verdict == "ok", finding
    assert finding.cause.startswith("No Redis problem found: `REDIS_URL` matches the Redis service")
    assert _evidence(finding, "Same host and port").observed == (
        "same as the Redis service's `REDIS_URL` (redis.railway.internal:6379)")
    assert _evidence(finding, "User and password").observed == "same user and password"
    assert _evidence(finding, "latest deployment").ok is True
    ping = _evidence(finding, "PING from the bot")
    assert ping.ok is None and "private network" in ping.observed
    assert _evidence(finding, "/ready/").ok is True
    assert REDIS_PASSWORD not in json.dumps(finding.to_json()) and not finding.actions


async def test_a_real_ping_to_a_running_redis() -> None:
    async with environment() as env:
        _redis_everywhere(env, "redis://127.0.0.1:6379/0")
        finding = await redis.run(env.context())
    assert finding.verdict == "ok", finding
    ping = _evidence(finding, "PING from the bot to 127.0.0.1:6379")
    assert ping.ok is True and ping.observed.startswith("PONG in ")
    assert "and Redis answers PING" in finding.cause


async def test_redis_outage_is_redis_not_the_database() -> None:
    """The recorded scenario: Redis unreachable, thousands of bare ECONNREFUSED blocks, database fine."""
    async with environment() as env:
        _redis_everywhere(env, DOWN_URL)
        env.add_logs([line for _ in range(300) for line in real.redis_refused_block()], step=0.003)
        env.target.set_state(redis_down_at_boot=True)
        ctx = env.context()
        found_redis, found_db = await redis.run(ctx), await db.run(env.context())
    assert found_redis.verdict == "problem"
    assert found_redis.cause.startswith("Redis at 127.0.0.1:6390 cannot be reached: connection refused")
    assert "The database is not the cause." in found_redis.cause
    assert _evidence(found_redis, "PING").observed == "connection refused: nothing listens on that host and port"
    logs = _evidence(found_redis, "connection errors naming Redis")
    # The flood is larger than the tail the bot reads (1000 lines): what was read is counted.
    counted = re.match(r"(\d+) × ECONNREFUSED \(127\.0\.0\.1:6390\) in \d+ s; ", logs.observed)
    assert logs.ok is False and counted and int(counted.group(1)) >= redis.FLOOD, logs.observed
    assert "latest: Error: connect ECONNREFUSED 127.0.0.1:6390" in logs.observed
    assert _evidence(found_redis, "/ready/").ok is False
    assert any("Railway → Redis → Deployments" in s for s in found_redis.remediation)
    assert any("Redis was unavailable at boot" in s for s in found_redis.remediation)
    assert found_redis.actions == ()  # nothing to click before Redis answers
    # The db playbook does not count Redis's errors.
    assert found_db.verdict == "ok", found_db
    assert _evidence(found_db, "Logs of the active").observed.startswith("no database errors in ")


async def test_redis_url_missing_offers_a_redeploy() -> None:
    async with environment() as env:
        env.drop_variable("REDIS_URL")
        finding = await redis.run(env.context())
    assert finding.verdict == "problem" and finding.cause.startswith("`REDIS_URL` is not set on `backend`")
    assert finding.remediation[0].startswith("Set `REDIS_URL` in Railway → `backend` → Variables to the reference "
                                             "`${{Redis.REDIS_URL}}`")
    assert [a.value for a in finding.actions] == ["redeploy:backend:redis"]


async def test_redis_url_pointing_elsewhere_is_named_without_the_password() -> None:
    async with environment() as env:
        env.set_variables(REDIS_URL=f"redis://default:{REDIS_PASSWORD}@127.0.0.1:6391")
        finding = await redis.run(env.context())
    assert finding.verdict == "problem"
    assert finding.cause == ("`REDIS_URL` on `backend` points to 127.0.0.1:6391, not to the Redis service "
                             "(redis.railway.internal:6379).")
    assert REDIS_PASSWORD not in json.dumps(finding.to_json())


async def test_a_crashed_redis_service_needs_no_backend_restart() -> None:
    world = base_world()
    next(d for d in world["deployments"] if d["id"] == REDIS_DEPLOYMENT_ID)["status"] = "CRASHED"
    async with environment(world) as env:
        finding = await redis.run(env.context(lang="es"))
    assert finding.verdict == "problem"
    assert finding.cause == "El servicio Redis no está corriendo: su último deployment está en CRASHED."
    assert any("se reconecta solo" in s for s in finding.remediation) and finding.actions == ()


async def test_without_railway_access_it_says_which_checks_did_not_run() -> None:
    async with environment() as env:
        finding = await run_one(get_playbook("redis"), env.context(railway=False))
    assert finding.verdict == "ok"
    assert "`REDIS_URL` was not compared with the Redis service's" in finding.cause
    assert "not checked: no Railway API credential is configured" in finding.cause
    assert "matches the Redis service" not in finding.cause
    assert _evidence(finding, "`REDIS_URL` set").ok is None


async def test_cli_json_redis_outage_is_a_problem_while_db_is_ok(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        _redis_everywhere(env, DOWN_URL)
        env.add_logs([line for _ in range(100) for line in real.redis_refused_block()], step=0.003)
        _configure(monkeypatch, tmp_path, env)
        code_redis = await _run("redis", "backend", "--json")
        out_redis = capsys.readouterr().out
        code_db = await _run("db", "backend", "--json")
        out_db = capsys.readouterr().out
    redis_doc, db_doc = json.loads(out_redis), json.loads(out_db)
    jsonschema.validate(redis_doc, SCHEMA)
    jsonschema.validate(db_doc, SCHEMA)
    assert (code_redis, [(f["playbook"], f["verdict"]) for f in redis_doc["findings"]]) == (1, [("redis", "problem")])
    assert (code_db, [(f["playbook"], f["verdict"]) for f in db_doc["findings"]]) == (0, [("db", "ok")])
    assert "pw-for-the-outage-0123" not in out_redis


async def test_a_few_errors_are_a_reconnect_not_an_outage() -> None:
    async with environment() as env:
        _redis_everywhere(env, "redis://127.0.0.1:6379")
        env.add_logs([line for _ in range(3) for line in real.redis_refused_block("127.0.0.1", 6379)])
        finding = await redis.run(env.context())
    assert finding.verdict == "ok", finding
    logs = _evidence(finding, "connection errors naming Redis")
    assert logs.ok is True and logs.observed.startswith("only 3 × ECONNREFUSED (127.0.0.1:6379)")
