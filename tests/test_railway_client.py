"""The Railway client against the emulator on loopback: every operation, every failure, the retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.common.errors import ConfigError
from bot.config.services import RailwayRef
from bot.i18n import catalogue
from bot.railway import (
    ALL_DOCUMENTS,
    RailwayClient,
    RailwayError,
    RailwayMalformedAnswer,
    RailwayNameNotFound,
    RailwayNotAuthorized,
    RailwayNotFound,
    RailwayOutsideProjectToken,
    RailwayProjectTokenNotFound,
    RailwayRateLimited,
    RailwayServerError,
    RailwayTimeout,
    SecretVariables,
    ServiceIds,
    retry_after_seconds,
)
from sandbox.emulators.railway import MIN_SCHEMA_PATH, RailwayEmulator

API = "test-api-token"
PROJECT_TOKEN = "test-project-token"
STAGING_TOKEN = "test-staging-token"
JWT = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c2b4d6f8e0a1c3e5b7d9f1a3c5e7b9d0f"
IDS = ServiceIds("p-shop", "e-prod", "s-api")
REF = RailwayRef(project="shop", environment="production", service="api")


def world() -> dict:
    """Two projects; deployments listed out of order on purpose (the client must sort)."""
    return {
        "tokens": {"api": [API], "project": [
            {"token": PROJECT_TOKEN, "project": "shop", "environment": "production"},
            {"token": STAGING_TOKEN, "projectId": "p-shop", "environmentId": "e-staging"},
        ]},
        "projects": [
            {"id": "p-shop", "name": "shop",
             "environments": [{"id": "e-prod", "name": "production"}, {"id": "e-staging", "name": "staging"}],
             "services": [
                 {"id": "s-api", "name": "api",
                  "variables": {"JWT_SECRET": JWT, "DATABASE_URL": "${{db.DATABASE_URL}}", "NODE_ENV": "production"},
                  "metrics": {
                      "CPU_USAGE": {"start": "now-60m", "step": 60, "values": [0.1 * (i % 5) for i in range(61)]},
                      "CPU_LIMIT": {"start": "now-60m", "step": 60, "values": [8] * 61},
                      "MEMORY_USAGE_GB": [["now-10m", 0.5], ["now-5m", 0.7], ["now-90m", 0.1]],
                      "MEMORY_LIMIT_GB": [["now-5m", 8]],
                      "NETWORK_RX_GB": [["now-5m", 0.001]],
                      "NETWORK_TX_GB": [["now-5m", 0.002]],
                  }},
                 {"id": "s-db", "name": "db",
                  "variables": {"DATABASE_URL": "postgresql://postgres:s3cr3tpassw0rd@db.railway.internal:5432/railway"}},
             ]},
            {"id": "p-blog", "name": "blog", "environments": [{"id": "e-blog", "name": "production"}],
             "services": [{"id": "s-web", "name": "web"}, {"id": "s-web2", "name": "api"}]},
        ],
        "deployments": [
            {"id": "d-old", "service": "s-api", "environment": "production", "status": "REMOVED",
             "createdAt": "now-3d", "meta": {"commitHash": "aaa111", "commitMessage": "first", "branch": "main"},
             "logs": [{"timestamp": "+1s", "message": "SERVER_BOOT_OK"}]},
            {"id": "d-live", "service": "s-api", "environment": "production", "status": "SUCCESS",
             "createdAt": "now-1h", "meta": {"commitHash": "ccc333", "commitMessage": "third", "branch": "main"},
             "url": "api-production.up.railway.app",
             "logs": [{"timestamp": "+1s", "message": "[BOOT] Health listening on port 8080"},
                      {"timestamp": "+2s", "message": "✅ Redis connected"},
                      {"timestamp": "+3s", "message": "❌ Redis error: Error: connect ECONNREFUSED",
                       "severity": "error", "attributes": {"level": "error"}},
                      {"timestamp": "+4s", "message": "Redis reconnecting"}],
             "build_logs": [{"timestamp": "+0s", "message": "Using Detected Dockerfile"}]},
            {"id": "d-failed", "service": "s-api", "environment": "production", "status": "FAILED",
             "createdAt": "now-2d", "meta": {"commitHash": "bbb222", "commitMessage": "second"}},
            {"id": "d-staging", "service": "s-api", "environment": "staging", "status": "SUCCESS",
             "createdAt": "now-2h"},
        ],
    }


@pytest.fixture
async def emulator() -> AsyncIterator[RailwayEmulator]:
    emu = RailwayEmulator(world(), stage_seconds=0.05)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make(emulator: RailwayEmulator, http: httpx.AsyncClient, **kwargs) -> RailwayClient:
    kwargs.setdefault("api_token", None if "project_token" in kwargs else API)
    kwargs.setdefault("backoff", 0.01)
    return RailwayClient(http, emulator.graphql_url, **kwargs)


async def eventually(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := await predicate()):
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.02)
    return value


# ---- operations -------------------------------------------------------------------------------


async def test_resolve_by_names_lists_once_and_caches(emulator, http):
    client = make(emulator, http)
    assert await client.resolve(REF) == IDS
    assert await client.resolve(REF) == IDS
    assert await client.resolve(RailwayRef(project="shop", environment="staging", service="api")) == \
        ServiceIds("p-shop", "e-staging", "s-api")
    assert len(emulator.queries("projects")) == 1


async def test_resolve_with_ids_asks_nothing(emulator, http):
    client = make(emulator, http)
    ref = RailwayRef(project_id="p-shop", environment_id="e-prod", service_id="s-api")
    assert await client.resolve(ref) == IDS
    assert emulator.calls == []


async def test_resolve_with_project_id_and_service_name_reads_that_project(emulator, http):
    client = make(emulator, http)
    assert await client.resolve(RailwayRef(project_id="p-shop", environment="production", service="api")) == IDS
    assert [c.fields for c in emulator.calls] == [("project",)]


async def test_resolve_unknown_and_ambiguous_names(emulator, http):
    client = make(emulator, http)
    with pytest.raises(RailwayNameNotFound) as err:
        await client.resolve(RailwayRef(project="nope", environment="production", service="api"))
    assert "`nope`" in str(err.value) and "project_id" in str(err.value)
    with pytest.raises(ConfigError, match="More than one Railway service"):
        await client.resolve(RailwayRef(service="api"))  # "api" exists in two projects
    with pytest.raises(ConfigError, match="several environments"):
        await client.resolve(RailwayRef(project="shop", service="api"))
    assert await client.resolve(RailwayRef(service="web")) == ServiceIds("p-blog", "e-blog", "s-web")


async def test_deployments_newest_first_with_commit_meta(emulator, http):
    deployments = await make(emulator, http).deployments(IDS)
    assert [d.id for d in deployments] == ["d-live", "d-failed", "d-old"]
    live = deployments[0]
    assert (live.status, live.commit_hash, live.commit_message, live.branch) == ("SUCCESS", "ccc333", "third", "main")
    assert live.can_rollback and live.can_redeploy and live.url == "api-production.up.railway.app"
    assert live.created_at.tzinfo is not None and live.project_id == "p-shop" and live.service_id == "s-api"
    failed = deployments[1]
    assert failed.branch is None and not failed.can_rollback
    assert [d.id for d in await make(emulator, http).deployments(IDS, limit=1)] == ["d-live"]


async def test_active_and_single_deployment(emulator, http):
    client = make(emulator, http)
    assert (await client.active_deployment(IDS)).id == "d-live"
    assert (await client.deployment("d-old")).status == "REMOVED"
    emulator.world.add_deployment("s-api", environment="e-prod", status="CRASHED", id="d-bad")
    assert (await client.active_deployment(IDS)).id == "d-bad"
    assert (await client.deployment("d-live")).status == "REMOVED"


async def test_active_deployment_none_when_nothing_runs(emulator, http):
    emulator.world.add_deployment("web", status="FAILED")
    assert await make(emulator, http).active_deployment(ServiceIds("p-blog", "e-blog", "s-web")) is None


async def test_rollback_creates_a_deployment_that_replaces_the_active_one(emulator, http):
    client = make(emulator, http)
    assert await client.rollback("d-old") is True
    newest = (await client.deployments(IDS))[0]
    assert newest.id not in ("d-live", "d-old", "d-failed")
    assert newest.status in ("QUEUED", "BUILDING") and newest.commit_hash == "aaa111"

    async def settled():
        return (await client.deployment(newest.id)).status == "SUCCESS"

    await eventually(settled)
    assert (await client.deployment("d-live")).status == "REMOVED"
    assert (await client.active_deployment(IDS)).id == newest.id
    assert len(emulator.mutations("deploymentRollback")) == 1


async def test_rollback_to_a_failed_deployment_is_refused(emulator, http):
    with pytest.raises(RailwayError) as err:
        await make(emulator, http).rollback("d-failed")
    assert "cannot be rolled back" in str(err.value)


async def test_redeploy_returns_the_new_deployment_and_restart_returns_true(emulator, http):
    client = make(emulator, http)
    new = await client.redeploy("d-live")
    assert new.id != "d-live" and new.status == "QUEUED" and new.commit_hash == "ccc333"
    assert await client.restart("d-live") is True
    assert [c.fields for c in emulator.mutations()] == [("deploymentRedeploy",), ("deploymentRestart",)]


async def test_deployment_logs_filter_limit_and_window(emulator, http):
    client = make(emulator, http)
    lines = await client.deployment_logs("d-live")
    assert lines[0].message == "[BOOT] Health listening on port 8080"
    assert lines == sorted(lines, key=lambda ln: ln.timestamp)
    redis = await client.deployment_logs("d-live", filter="REDIS")
    assert len(redis) == 3
    assert [ln.message for ln in await client.deployment_logs("d-live", filter="redis", limit=1)] == \
        ["Redis reconnecting"]
    error = await client.deployment_logs("d-live", filter="@level:error")
    assert [(ln.severity, ln.attributes) for ln in error] == [("error", {"level": "error"})]
    start = lines[1].timestamp
    window = await client.deployment_logs("d-live", start=start, end=start + timedelta(seconds=1.5))
    assert [ln.message for ln in window] == [lines[1].message, lines[2].message]


async def test_environment_logs(emulator, http):
    client = make(emulator, http)
    lines = await client.environment_logs("e-prod")
    assert len(lines) == 5  # d-live's four and d-old's one
    assert [ln.message for ln in await client.environment_logs("e-prod", filter="boot")] == \
        ["SERVER_BOOT_OK", "[BOOT] Health listening on port 8080"]
    assert len(await client.environment_logs("e-prod", limit=2)) == 2
    recent = await client.environment_logs("e-prod", start=datetime.now(UTC) - timedelta(hours=2))
    assert len(recent) == 4


async def test_variables_are_rendered_and_never_shown(emulator, http):
    variables = await make(emulator, http).variables(IDS)
    assert isinstance(variables, SecretVariables)
    assert variables["JWT_SECRET"] == JWT
    assert variables["DATABASE_URL"].startswith("postgresql://postgres:s3cr3tpassw0rd@db.railway.internal")
    for shown in (repr(variables), str(variables), f"{variables}", f"{variables!r}"):
        assert JWT not in shown and "s3cr3tpassw0rd" not in shown and "production" not in shown
        assert "JWT_SECRET" in shown


async def test_metrics_window_and_series(emulator, http):
    client = make(emulator, http)
    metrics = await client.metrics(IDS, datetime.now(UTC) - timedelta(minutes=30))
    assert 29 <= len(metrics.cpu_usage) <= 31
    assert metrics.cpu_usage == sorted(metrics.cpu_usage)
    assert metrics.latest(metrics.cpu_limit) == 8.0
    assert [v for _, v in metrics.memory_usage_gb] == [0.5, 0.7]  # the 90-minute-old point is outside
    assert metrics.latest(metrics.memory_limit_gb) == 8.0
    assert metrics.network_rx_gb[0][1] == 0.001 and metrics.network_tx_gb[0][1] == 0.002
    coarse = await client.metrics(IDS, datetime.now(UTC) - timedelta(minutes=30), sample_rate_seconds=600)
    assert len(coarse.cpu_usage) in (3, 4)


async def test_operations_work_against_the_fallback_schema(http):
    async with RailwayEmulator(world(), schema_path=MIN_SCHEMA_PATH, stage_seconds=0.05) as emu:
        client = make(emu, http)
        ids = await client.resolve(REF)
        assert (await client.active_deployment(ids)).id == "d-live"
        assert await client.rollback("d-old") is True
        assert (await client.variables(ids))["NODE_ENV"] == "production"
        assert len(await client.deployment_logs("d-live")) == 4


async def test_client_only_sends_its_own_documents(emulator, http):
    client = make(emulator, http)
    await client.deployments(await client.resolve(REF))
    assert {c.operation_name for c in emulator.calls} <= set(ALL_DOCUMENTS)


# ---- project tokens ---------------------------------------------------------------------------


async def test_project_token_resolves_inside_its_scope(emulator, http):
    client = make(emulator, http, project_token=PROJECT_TOKEN)
    assert await client.resolve(REF) == IDS
    assert await client.resolve(RailwayRef(service="api")) == IDS
    assert [d.id for d in await client.deployments(IDS)] == ["d-live", "d-failed", "d-old"]
    assert {c.auth for c in emulator.calls} == {"project"}
    assert emulator.queries("projects") == []


async def test_project_token_outside_its_environment_says_so(emulator, http):
    client = make(emulator, http, project_token=STAGING_TOKEN)
    with pytest.raises(RailwayOutsideProjectToken) as err:
        await client.resolve(REF)
    assert "reaches project `shop` / environment `staging` only" in str(err.value)
    assert "`shop / production`" in str(err.value)
    with pytest.raises(RailwayOutsideProjectToken):
        await client.resolve(RailwayRef(project_id="p-blog", environment_id="e-blog", service_id="s-web"))


async def test_project_token_reading_another_environment_is_not_authorized(emulator, http):
    client = make(emulator, http, project_token=STAGING_TOKEN)
    with pytest.raises(RailwayNotAuthorized) as err:
        await client.deployment("d-live")
    assert "project token" in str(err.value) and "RAILWAY_API_TOKEN" in str(err.value)


# ---- failures -------------------------------------------------------------------------------


async def test_unknown_bearer_token_is_not_authorized(emulator, http):
    with pytest.raises(RailwayNotAuthorized) as err:
        await make(emulator, http, api_token="wrong-token").deployment("d-live")
    assert not err.value.project_token and "RAILWAY_API_TOKEN" in str(err.value)
    assert "wrong-token" not in str(err.value)


async def test_unknown_project_token(emulator, http):
    with pytest.raises(RailwayProjectTokenNotFound, match="RAILWAY_TOKEN"):
        await make(emulator, http, project_token="no-such-token").resolve(REF)


async def test_project_token_wins_when_both_are_set(emulator, http):
    client = make(emulator, http, api_token=API, project_token=PROJECT_TOKEN)
    await client.deployment("d-live")
    assert emulator.calls[-1].auth == "project"


def test_no_token_is_a_configuration_error():
    with pytest.raises(ConfigError, match="RAILWAY_API_TOKEN"):
        RailwayClient(httpx.AsyncClient(), "http://127.0.0.1:9/graphql/v2")


async def test_not_found(emulator, http):
    with pytest.raises(RailwayNotFound, match="Deployment not found"):
        await make(emulator, http).deployment("d-missing")


async def test_not_authorized_fault_and_spanish_sentence(emulator, http):
    emulator.inject("not_authorized")
    with pytest.raises(RailwayNotAuthorized) as err:
        await make(emulator, http, lang="es").deployment("d-live")
    assert "Railway respondió" in str(err.value)


async def test_malformed_html_answer(emulator, http):
    emulator.inject("malformed")
    with pytest.raises(RailwayMalformedAnswer, match="text/html"):
        await make(emulator, http).deployment("d-live")
    assert len(emulator.calls) == 1


async def test_server_error_on_a_read_is_retried_with_backoff(emulator, http):
    emulator.inject("server_error", count=2, status=503)
    assert (await make(emulator, http).deployment("d-live")).id == "d-live"
    assert [c.fault for c in emulator.calls] == ["server_error", "server_error", None]


async def test_server_error_on_a_read_gives_up_after_the_bound(emulator, http):
    emulator.inject("server_error", count=None, status=503)
    with pytest.raises(RailwayServerError) as err:
        await make(emulator, http, max_read_retries=2).deployment("d-live")
    assert err.value.status == 503 and not err.value.ambiguous and "HTTP 503" in str(err.value)
    assert len(emulator.calls) == 3


async def test_read_timeout(emulator, http):
    emulator.inject("slow", delay=0.5)
    with pytest.raises(RailwayTimeout) as err:
        await make(emulator, http, timeout=0.1).deployment("d-live")
    assert not err.value.ambiguous
    assert len(emulator.calls) == 1  # timeouts are not retried


async def test_unreachable_railway(http):
    emu = RailwayEmulator(world())
    await emu.start()
    url = emu.graphql_url
    await emu.stop()
    with pytest.raises(RailwayServerError) as err:
        await RailwayClient(http, url, api_token=API, backoff=0.01, max_read_retries=1).deployment("d-live")
    assert err.value.status is None and "could not be reached" in str(err.value)


async def test_rate_limit_retry_honours_retry_after(emulator, http):
    emulator.inject("rate_limit", retry_after=1, operation="deployments")
    started = time.monotonic()
    deployments = await make(emulator, http).deployments(IDS)
    assert time.monotonic() - started >= 0.95
    assert deployments[0].id == "d-live"
    assert len(emulator.calls) == 2 and emulator.calls[0].fault == "rate_limit"


async def test_rate_limit_longer_than_the_cap_is_raised_at_once(emulator, http):
    emulator.inject("rate_limit", retry_after=120)
    with pytest.raises(RailwayRateLimited) as err:
        await make(emulator, http, max_retry_wait=5).deployments(IDS)
    assert err.value.retry_after == 120 and "2 min" in str(err.value)
    assert len(emulator.calls) == 1


async def test_rate_limit_retries_are_bounded(emulator, http):
    emulator.inject("rate_limit", retry_after=0.05, count=None)
    with pytest.raises(RailwayRateLimited):
        await make(emulator, http, max_read_retries=2).deployments(IDS)
    assert len(emulator.calls) == 3


def test_retry_after_and_rate_limit_reset_headers():
    now = 1_800_000_000.0
    assert retry_after_seconds({"retry-after": "7"}, now) == 7
    assert retry_after_seconds({"retry-after": "Fri, 15 Jan 2027 08:00:05 GMT"},
                               datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()) == 5
    assert retry_after_seconds({"x-ratelimit-reset": str(int(now) + 12)}, now) == 12
    assert retry_after_seconds({"x-ratelimit-reset": str(int(now * 1000) + 3000)}, now) == 3
    assert retry_after_seconds({"x-ratelimit-reset": "9"}, now) == 9
    assert retry_after_seconds({"x-ratelimit-reset": "2027-01-15T08:00:30Z"},
                               datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()) == 30
    assert retry_after_seconds({"retry-after": "2", "x-ratelimit-reset": str(int(now) + 50)}, now) == 2
    assert retry_after_seconds({}, now) is None


async def test_rate_limit_without_retry_after_waits_for_the_reset(emulator, http):
    emulator.inject("rate_limit", retry_after=None)  # only X-RateLimit-Reset, about 60 s away
    with pytest.raises(RailwayRateLimited) as err:
        await make(emulator, http, max_retry_wait=5).deployments(IDS)
    assert 55 <= err.value.retry_after <= 61


# ---- mutations are not retried blindly -------------------------------------------------------


async def test_mutation_is_not_retried_after_a_server_error(emulator, http):
    emulator.inject("server_error", operation="deploymentRollback")
    with pytest.raises(RailwayServerError) as err:
        await make(emulator, http).rollback("d-old")
    assert err.value.ambiguous and "not retried" in str(err.value)
    assert len(emulator.mutations("deploymentRollback")) == 1


async def test_mutation_is_not_retried_after_a_timeout_even_though_it_ran(emulator, http):
    emulator.inject("slow", delay=0.4, operation="deploymentRollback")
    with pytest.raises(RailwayTimeout) as err:
        await make(emulator, http, timeout=0.1).rollback("d-old")
    assert err.value.ambiguous

    async def acted() -> bool:  # Railway acts once its 0.4 s are over
        return len(emulator.world.deployments_of("s-api", "e-prod")) == 4

    # Railway did act: that is why a blind retry would have rolled back twice.
    await eventually(acted)
    assert len(emulator.mutations("deploymentRollback")) == 1


async def test_rate_limited_mutation_is_retried_once(emulator, http):
    emulator.inject("rate_limit", retry_after=0.2, operation="deploymentRollback")
    assert await make(emulator, http).rollback("d-old") is True
    assert [c.fault for c in emulator.mutations("deploymentRollback")] == ["rate_limit", None]


async def test_rate_limited_mutation_is_not_retried_twice(emulator, http):
    emulator.inject("rate_limit", retry_after=0.05, count=None, operation="deploymentRestart")
    with pytest.raises(RailwayRateLimited):
        await make(emulator, http).restart("d-live")
    assert len(emulator.mutations("deploymentRestart")) == 2


# ---- sentences ------------------------------------------------------------------------------


def test_every_error_sentence_exists_in_both_languages_and_survives_redaction():
    en = {k for k in catalogue("en") if k.startswith("railway.")}
    es = {k for k in catalogue("es") if k.startswith("railway.")}
    assert en == es
    for lang in ("en", "es"):
        errors = [
            RailwayError(detail="Problem processing request", lang=lang),
            RailwayNotAuthorized(project_token=True, lang=lang),
            RailwayNotAuthorized(project_token=False, lang=lang),
            RailwayProjectTokenNotFound(lang=lang),
            RailwayNotFound(detail="Deployment not found", lang=lang),
            RailwayNameNotFound(kind="environment", name="prod", lang=lang),
            RailwayRateLimited(retry_after=90, lang=lang),
            RailwayRateLimited(retry_after=None, lang=lang),
            RailwayServerError(status=502, ambiguous=True, lang=lang),
            RailwayServerError(status=None, lang=lang),
            RailwayTimeout(seconds=15, ambiguous=False, lang=lang),
            RailwayMalformedAnswer(status=200, content_type="text/html", reason="not_json", lang=lang),
            RailwayOutsideProjectToken(service="api", wanted="shop / production", project="shop",
                                       environment="staging", lang=lang),
        ]
        for err in errors:
            assert str(err) and "[redacted]" not in str(err) and "{{" not in str(err), (lang, type(err))
