"""The Railway emulator over real HTTP: schema validation, auth, faults, the world and its mutations."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.railway.documents import DEPLOYMENT, DEPLOYMENT_ROLLBACK, DEPLOYMENTS, VARIABLES
from sandbox.emulators.railway import MIN_SCHEMA_PATH, WORLDS, RailwayEmulator, default_schema_path
from sandbox.emulators.railway_world import World, parse_when
from tests.conftest import eventually

TOKEN = "emu-api-token"
SCOPED = "emu-project-token"


def world(**extra) -> dict:
    return {
        "tokens": {"api": [TOKEN], "project": [{"token": SCOPED, "project": "shop", "environment": "production"}]},
        "projects": [{"id": "p1", "name": "shop", "environments": [{"id": "e1", "name": "production"}],
                      "services": [{"id": "s1", "name": "api",
                                    "variables": {"DB": "${{db.URL}}", "PLAIN": "x"}},
                                   {"id": "s2", "name": "db", "variables": {"URL": "postgresql://db:5432/app"}}]}],
        "deployments": [
            {"id": "old", "service": "api", "status": "REMOVED", "createdAt": "now-2d", "meta": {"commitHash": "a1"}},
            {"id": "bad", "service": "api", "status": "FAILED", "createdAt": "now-1d"},
            {"id": "live", "service": "api", "status": "SUCCESS", "createdAt": "now-1h", "meta": {"commitHash": "c3"},
             "logs": [{"timestamp": "+1.25s", "message": "SERVER_BOOT_OK"}]},
        ],
        **extra,
    }


@pytest.fixture
async def emulator() -> AsyncIterator[RailwayEmulator]:
    emu = RailwayEmulator(world(), stage_seconds=0.1)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def gql(http: httpx.AsyncClient, emu: RailwayEmulator, query: str, variables: dict | None = None, *,
              headers: dict | None = None) -> httpx.Response:
    return await http.post(emu.graphql_url, json={"query": query, "variables": variables or {}},
                           headers={"Authorization": f"Bearer {TOKEN}"} if headers is None else headers)


async def status_of(http, emu, deployment_id: str) -> str:
    resp = await gql(http, emu, DEPLOYMENT, {"id": deployment_id})
    return resp.json()["data"]["deployment"]["status"]


# ---- protocol ---------------------------------------------------------------------------------


async def test_invalid_documents_get_validation_errors_like_a_real_server(emulator, http):
    resp = await gql(http, emulator, 'mutation { deploymentRollback(id: "old") { id status } }')
    assert resp.status_code == 400
    assert "must not have a selection" in resp.json()["errors"][0]["message"]
    resp = await gql(http, emulator, "{ deployments(")
    assert resp.status_code == 400 and "Syntax Error" in resp.json()["errors"][0]["message"]
    resp = await http.post(emulator.graphql_url, content=b"not json")
    assert resp.status_code == 400
    assert [d.id for d in emulator.world.deployments_of("api")] == ["live", "bad", "old"]  # nothing ran


async def test_missing_or_unknown_token_is_http_200_not_authorized(emulator, http):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        resp = await gql(http, emulator, DEPLOYMENT, {"id": "live"}, headers=headers)
        assert resp.status_code == 200
        assert resp.json() == {"data": None, "errors": [{"message": "Not Authorized"}]}


async def test_project_tokens(emulator, http):
    resp = await gql(http, emulator, DEPLOYMENT, {"id": "live"}, headers={"Project-Access-Token": "nope"})
    assert resp.json()["errors"][0]["message"] == "Project Token not found"
    scoped = {"Project-Access-Token": SCOPED}
    resp = await gql(http, emulator, DEPLOYMENT, {"id": "live"}, headers=scoped)
    assert resp.json()["data"]["deployment"]["id"] == "live"
    resp = await gql(http, emulator, "{ projects { edges { node { id } } } }", headers=scoped)
    assert resp.json()["errors"][0]["message"] == "Not Authorized"
    resp = await gql(http, emulator, "{ projectToken { projectId environmentId } }", headers=scoped)
    assert resp.json()["data"]["projectToken"] == {"projectId": "p1", "environmentId": "e1"}
    assert [c.auth for c in emulator.calls] == ["project"] * 4


async def test_calls_are_recorded_with_operation_fields_and_variables(emulator, http):
    await gql(http, emulator, DEPLOYMENT_ROLLBACK, {"id": "old"})
    call = emulator.calls[-1]
    assert (call.operation_name, call.fields, call.kind, call.variables, call.auth) == \
        ("DeploymentRollback", ("deploymentRollback",), "mutation", {"id": "old"}, "bearer")
    assert len(emulator.mutations("deploymentRollback")) == 1 and emulator.mutations("deploymentRestart") == []
    listed = (await http.get(emulator.url + "/_control/calls")).json()["calls"]
    assert listed[-1]["fields"] == ["deploymentRollback"]
    assert TOKEN not in str(listed)


async def test_deployments_filter_by_status(emulator, http):
    query = DEPLOYMENTS
    base = {"projectId": "p1", "environmentId": "e1", "serviceId": "s1"}
    resp = await gql(http, emulator, query, {"input": {**base, "status": {"in": ["SUCCESS", "FAILED"]}}})
    assert {e["node"]["id"] for e in resp.json()["data"]["deployments"]["edges"]} == {"live", "bad"}
    resp = await gql(http, emulator, query, {"input": {**base, "status": {"notIn": ["FAILED"]}}, "first": 1})
    assert [e["node"]["id"] for e in resp.json()["data"]["deployments"]["edges"]] == ["live"]


async def test_variables_rendered_and_unrendered(emulator, http):
    ids = {"projectId": "p1", "environmentId": "e1", "serviceId": "s1"}
    resp = await gql(http, emulator, VARIABLES, ids)
    assert resp.json()["data"]["variables"] == {"DB": "postgresql://db:5432/app", "PLAIN": "x"}
    resp = await gql(http, emulator, "query($p: String!, $e: String!, $s: String) "
                     "{ variables(projectId: $p, environmentId: $e, serviceId: $s, unrendered: true) }",
                     {"p": "p1", "e": "e1", "s": "s1"})
    assert resp.json()["data"]["variables"]["DB"] == "${{db.URL}}"


async def test_log_timestamps_have_nanoseconds(emulator, http):
    resp = await gql(http, emulator, '{ deploymentLogs(deploymentId: "live") { timestamp message } }')
    line = resp.json()["data"]["deploymentLogs"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", line["timestamp"])
    assert line["message"] == "SERVER_BOOT_OK"


# ---- faults -----------------------------------------------------------------------------------


async def test_rate_limit_fault_over_http_control(emulator, http):
    resp = await http.post(emulator.url + "/_control/faults", json={"kind": "rate_limit", "retry_after": 3})
    assert resp.json()["ok"] is True
    sent = time.time()
    limited = await gql(http, emulator, DEPLOYMENT, {"id": "live"})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3" and limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) >= sent + 3
    assert limited.json() == {"errors": [{"message": "Rate limit exceeded"}]}
    assert (await gql(http, emulator, DEPLOYMENT, {"id": "live"})).status_code == 200
    bad = await http.post(emulator.url + "/_control/faults", json={"kind": "meteor"})
    assert bad.status_code == 400


async def test_faults_target_an_operation_and_can_be_cleared(emulator, http):
    emulator.inject("server_error", status=503, count=None, operation="deploymentRollback")
    assert (await gql(http, emulator, DEPLOYMENT, {"id": "live"})).status_code == 200
    failed = await gql(http, emulator, DEPLOYMENT_ROLLBACK, {"id": "old"})
    assert failed.status_code == 503 and failed.headers["Content-Type"].startswith("text/html")
    assert (await gql(http, emulator, DEPLOYMENT_ROLLBACK, {"id": "old"})).status_code == 503
    await http.delete(emulator.url + "/_control/faults")
    assert (await gql(http, emulator, DEPLOYMENT_ROLLBACK, {"id": "old"})).json() == \
        {"data": {"deploymentRollback": True}}


async def test_malformed_not_authorized_and_slow_faults(emulator, http):
    emulator.inject("malformed")
    resp = await gql(http, emulator, DEPLOYMENT, {"id": "live"})
    assert resp.status_code == 200 and resp.text.startswith("<!DOCTYPE html>")
    emulator.inject("not_authorized")
    assert (await gql(http, emulator, DEPLOYMENT, {"id": "live"})).json()["errors"][0]["message"] == "Not Authorized"
    emulator.inject("slow", delay=0.3)
    started = time.monotonic()
    assert (await gql(http, emulator, DEPLOYMENT, {"id": "live"})).json()["data"]["deployment"]["id"] == "live"
    assert time.monotonic() - started >= 0.3
    with pytest.raises(ValueError):
        emulator.inject("earthquake")


async def test_peak_in_flight_counts_requests_answered_at_once(emulator, http):
    emulator.inject("slow", count=None, delay=0.2)
    await gql(http, emulator, DEPLOYMENT, {"id": "live"})
    await gql(http, emulator, DEPLOYMENT, {"id": "live"})
    assert (emulator.peak_in_flight, emulator.in_flight) == (1, 0)  # one after another
    emulator.clear_faults()
    emulator.inject("slow", count=3, delay=60)
    held = [asyncio.create_task(gql(http, emulator, DEPLOYMENT, {"id": "live"})) for _ in range(3)]
    await eventually(lambda: emulator.in_flight == 3, timeout=30)  # all three held at once
    assert emulator.peak_in_flight == 3
    for task in held:
        task.cancel()
    await asyncio.gather(*held, return_exceptions=True)


async def test_no_answer_runs_the_mutation_and_hang_does_not(emulator, http):
    """Both hold the answer, then a proxy's 504: a client with a shorter timeout never hears back."""
    emulator.world.add_deployment("api", status="SUCCESS")
    before = len(emulator.world.deployments_of("api"))
    emulator.inject("hang", operation="deploymentRollback", delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await http.post(emulator.graphql_url, json={"query": DEPLOYMENT_ROLLBACK, "variables": {"id": "old"}},
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=0.1)
    assert len(emulator.world.deployments_of("api")) == before  # nothing happened
    emulator.inject("no_answer", operation="deploymentRollback", delay=0.3)
    resp = await gql(http, emulator, DEPLOYMENT_ROLLBACK, {"id": "old"})
    assert resp.status_code == 504 and resp.headers["Content-Type"].startswith("text/html")
    assert len(emulator.world.deployments_of("api")) == before + 1  # the rollback ran all the same
    assert [c.fault for c in emulator.mutations("deploymentRollback")] == ["hang", "no_answer"]


# ---- mutations change the world ----------------------------------------------------------------


class SetClock:
    """The world's clock, set by the test: each stage is read at a moment the test picks, so no stage
    can slip by between two reads however busy the machine is."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_rollback_goes_through_the_stages_and_replaces_the_active_deployment(http):
    clock, stage_seconds = SetClock(), 10.0
    async with RailwayEmulator(World(world(), stage_seconds=stage_seconds, clock=clock)) as emu:
        assert (await gql(http, emu, DEPLOYMENT_ROLLBACK, {"id": "old"})).json()["data"]["deploymentRollback"]
        new = emu.world.deployments_of("api")[0]
        assert new.id not in ("old", "bad", "live") and new.meta["commitHash"] == "a1"
        seen = []
        for stage in range(4):  # the middle of each of the three stages, then after the last
            clock.now = new.created_at + (stage + 0.5) * stage_seconds
            seen.append((await status_of(http, emu, new.id), await status_of(http, emu, "live")))
    assert seen == [("QUEUED", "SUCCESS"), ("BUILDING", "SUCCESS"), ("DEPLOYING", "SUCCESS"),  # still serving
                    ("SUCCESS", "REMOVED")]


async def test_rollback_outcomes_from_the_world(http):
    data = world(next_outcome="CRASHED")
    data["deployments"][0]["rollback_outcome"] = "FAILED"
    async with RailwayEmulator(data, stage_seconds=0) as emu:
        await gql(http, emu, DEPLOYMENT_ROLLBACK, {"id": "old"})  # the target's own outcome wins
        assert emu.world.deployments_of("api")[0].status == "FAILED"
        assert await status_of(http, emu, "live") == "SUCCESS"  # a failed deploy replaces nothing
        emu.world.deployments["old"].rollback_outcome = None
        await gql(http, emu, DEPLOYMENT_ROLLBACK, {"id": "old"})  # next_outcome, used once
        assert emu.world.deployments_of("api")[0].status == "CRASHED"
        assert await status_of(http, emu, "live") == "REMOVED"
        await gql(http, emu, DEPLOYMENT_ROLLBACK, {"id": "old"})
        assert emu.world.deployments_of("api")[0].status == "SUCCESS"


async def test_cannot_roll_back_to_failed_or_crashed(emulator, http):
    resp = await gql(http, emulator, "{ deployment(id: \"bad\") { canRollback canRedeploy } }")
    assert resp.json()["data"]["deployment"] == {"canRollback": False, "canRedeploy": True}
    resp = await gql(http, emulator, DEPLOYMENT_ROLLBACK, {"id": "bad"})
    assert resp.json()["errors"][0]["message"] == "Deployment cannot be rolled back"
    resp = await gql(http, emulator, DEPLOYMENT_ROLLBACK, {"id": "ghost"})
    assert resp.json()["errors"][0]["message"] == "Deployment not found"


async def test_redeploy_returns_the_new_deployment(emulator, http):
    resp = await gql(http, emulator, 'mutation { deploymentRedeploy(id: "live") { id status meta } }')
    new = resp.json()["data"]["deploymentRedeploy"]
    assert new["status"] == "QUEUED" and new["meta"] == {"commitHash": "c3", "reason": "redeploy"}
    assert emulator.world.deployment(new["id"]).logs[0].message == "SERVER_BOOT_OK"  # replayed from the image


async def test_a_bad_deploy_lands_over_http_control(emulator, http):
    resp = await http.post(emulator.url + "/_control/deployments",
                           json={"service": "api", "status": "CRASHED", "meta": {"commitHash": "d4"}})
    new_id = resp.json()["id"]
    assert await status_of(http, emulator, new_id) == "CRASHED"
    assert await status_of(http, emulator, "live") == "REMOVED"
    resp = await gql(http, emulator, '{ serviceInstance(serviceId: "s1", environmentId: "e1") '
                     "{ activeDeployments { id } latestDeployment { id } } }")
    assert resp.json()["data"]["serviceInstance"] == {"activeDeployments": [{"id": new_id}],
                                                      "latestDeployment": {"id": new_id}}
    bad = await http.post(emulator.url + "/_control/deployments", json={"service": "nope"})
    assert bad.status_code == 400


async def test_in_process_world_changes(emulator, http):
    world_ = emulator.world
    world_.set_variables("api", {"PLAIN": "y", "NEW": "1"})
    assert world_.variables["s1"] == {"DB": "${{db.URL}}", "PLAIN": "y", "NEW": "1"}
    world_.set_logs("live", [{"timestamp": "+0s", "message": "FATAL ERROR: heap out of memory", "severity": "error"}])
    resp = await gql(http, emulator, '{ deploymentLogs(deploymentId: "live", filter: "heap") { message severity } }')
    assert resp.json()["data"]["deploymentLogs"] == [{"message": "FATAL ERROR: heap out of memory",
                                                     "severity": "error"}]
    now = int(time.time())
    world_.set_metrics("api", "CPU_USAGE", [(now - 120, 0.5), (now - 60, 1.5)])
    resp = await gql(http, emulator, "query($s: DateTime!) { metrics(serviceId: \"s1\", environmentId: \"e1\", "
                     "measurements: [CPU_USAGE], startDate: $s, sampleRateSeconds: 60) "
                     "{ measurement values { ts value } } }",
                     {"s": datetime.fromtimestamp(now - 600, UTC).isoformat().replace("+00:00", "Z")})
    assert resp.json()["data"]["metrics"][0]["values"] == [{"ts": (now - 120) // 60 * 60, "value": 0.5},
                                                          {"ts": (now - 60) // 60 * 60, "value": 1.5}]
    dep = world_.add_deployment("api", outcome="FAILED")
    assert dep.status == "QUEUED"


# ---- the world file ----------------------------------------------------------------------------


def test_world_times():
    now = 1_800_000_000.0
    assert parse_when("now", now) == now
    assert parse_when("now-2d3h", now) == now - 2 * 86400 - 3 * 3600
    assert parse_when("now+90s", now) == now + 90
    assert parse_when("+1.5s", now, base=100.0) == 101.5
    assert parse_when("2027-01-15T08:00:00Z", now) == datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()
    assert parse_when(1234, now) == 1234.0
    with pytest.raises(ValueError):
        parse_when("-3h", now)


def test_world_file_mistakes_are_reported():
    with pytest.raises(ValueError, match="unknown deployment keys: colour"):
        World({**world(), "deployments": [{"service": "api", "colour": "red"}]})
    with pytest.raises(ValueError, match="outcome"):
        World(world(next_outcome="MAYBE"))


def test_demo_world_describes_the_ivan_reseller_backend():
    demo = World(WORLDS / "demo.json")
    project = demo.project("ivan-reseller")
    assert demo.environment("production", project["id"])
    backend = demo.deployments_of("backend")
    statuses = [d.status for d in backend]
    assert statuses[0] == "SUCCESS" and len(backend) >= 6
    assert {"FAILED", "CRASHED"} <= set(statuses) and set(statuses) <= {"SUCCESS", "REMOVED", "FAILED", "CRASHED"}
    assert all(d.meta.get("commitHash") and d.meta.get("commitMessage") and d.meta.get("branch") for d in backend)
    assert backend[0].created_at > backend[-1].created_at > time.time() - 8 * 86400
    boot = [line.message for line in backend[0].logs]
    assert "SERVER_BOOT_OK" in boot and "[BOOT] Express app loaded - full routing active" in boot
    variables = demo.rendered_variables(demo.service("backend")["id"])
    assert "@postgres.railway.internal:5432/" in variables["DATABASE_URL"]
    assert len(variables["JWT_SECRET"]) == 64
    assert {"ENCRYPTION_KEY", "CORS_ORIGIN", "NODE_ENV", "REDIS_URL"} <= set(variables)
    assert {"PGHOST", "PGPASSWORD", "DATABASE_URL"} <= set(demo.variables[demo.service("Postgres")["id"]])
    cpu = demo.metrics[demo.service("backend")["id"]]["CPU_USAGE"]
    assert time.time() - 3700 <= cpu[0][0] and cpu[-1][0] <= time.time() + 60


def test_schema_path_can_be_overridden(monkeypatch, tmp_path):
    monkeypatch.setenv("RAILWAY_SCHEMA_PATH", str(MIN_SCHEMA_PATH))
    assert default_schema_path() == MIN_SCHEMA_PATH
    assert RailwayEmulator(world()).schema_path == MIN_SCHEMA_PATH
    monkeypatch.setenv("RAILWAY_SCHEMA_PATH", str(tmp_path / "missing.graphql"))
    with pytest.raises(FileNotFoundError):
        RailwayEmulator(world())
    monkeypatch.delenv("RAILWAY_SCHEMA_PATH")
    shared = Path(__file__).resolve().parents[2] / "shared" / "railway" / "schema.graphql"
    assert default_schema_path() == (shared if shared.exists() else MIN_SCHEMA_PATH)
