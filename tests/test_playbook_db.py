"""The db playbook against the target and Railway emulators, and a real PostgreSQL that checks passwords."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.common import pgconnect
from bot.render.diagnose import diagnose_message, diagnose_text
from playbooks import db, findings_to_json
from playbooks.base import Finding
from tests.pg_cluster import Cluster, free_port, password_cluster
from tests.playbook_env import PG_PASSWORD, base_world, environment


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with password_cluster() as c:
        yield c


@pytest.fixture
async def blackhole() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


def _outputs(finding: Finding) -> str:
    text, blocks = diagnose_message("backend", [finding], "en")
    return "\n".join([json.dumps(findings_to_json([finding])), diagnose_text("backend", [finding], "es"), text,
                      json.dumps(blocks)])


def _assert_no_secret(finding: Finding, *secrets: str) -> None:
    out = _outputs(finding)
    for secret in (PG_PASSWORD, *secrets):
        assert secret not in out


def _evidence(finding: Finding, fragment: str):
    found = [e for e in finding.evidence if fragment in e.check]
    assert found, [e.check for e in finding.evidence]
    return found[0]


# ---- asyncpg against a real server -----------------------------------------------------------------


async def test_connection_classes_against_a_real_server(cluster: Cluster, blackhole: int) -> None:
    good = await pgconnect.try_connect(pgconnect.parse(cluster.url()), 3)
    assert good.kind == "ok"
    wrong = await pgconnect.try_connect(pgconnect.parse(cluster.url(password="not-the-password")), 3)
    assert wrong.kind == "auth"
    assert "not-the-password" not in wrong.detail and cluster.password not in wrong.detail
    closed = await pgconnect.try_connect(pgconnect.parse(cluster.url(port=free_port())), 3)
    assert closed.kind == "refused"
    dns = await pgconnect.try_connect(pgconnect.parse(cluster.url(host="db.invalid")), 3)
    assert dns.kind == "dns"
    hung = await pgconnect.try_connect(pgconnect.parse(cluster.url(port=blackhole)), 0.5)
    assert hung.kind == "timeout"
    # The blackhole never answers: only the 0.5 s bound ends the attempt. < 30 s is a margin of 60 times.
    assert 490 <= hung.elapsed_ms < 30_000


async def test_healthy_against_a_real_database(cluster: Cluster) -> None:
    async with environment(base_world(pg_url=cluster.url())) as env:
        finding = await db.run(env.context())
    assert finding.verdict == "ok", finding
    assert _evidence(finding, "Connection from the bot").ok is True
    assert _evidence(finding, "Same host, port").ok is True
    assert _evidence(finding, "User and password").ok is True
    assert not finding.actions and not finding.remediation
    _assert_no_secret(finding, cluster.password)


async def test_wrong_password_is_an_authentication_failure(cluster: Cluster) -> None:
    world = base_world(pg_url=cluster.url())
    async with environment(world) as env:
        env.set_variables(DATABASE_URL=cluster.url(password="stale-password-123"))
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "P1000" in finding.cause
    connect = _evidence(finding, "Connection from the bot")
    assert connect.ok is False and "authentication failed" in connect.observed
    assert _evidence(finding, "User and password").ok is False
    assert _evidence(finding, "Same host, port").ok is True
    assert any("Copy `DATABASE_URL` from the PostgreSQL service" in s for s in finding.remediation)
    assert any("Redeploy" in s for s in finding.remediation)
    assert [a.kind for a in finding.actions] == ["redeploy"]
    _assert_no_secret(finding, cluster.password, "stale-password-123")


async def test_closed_port_is_refused(cluster: Cluster) -> None:
    url = cluster.url(port=free_port())
    async with environment(base_world(pg_url=url)) as env:
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "connection refused" in finding.cause
    assert _evidence(finding, "Connection from the bot").ok is False
    _assert_no_secret(finding, cluster.password)


async def test_unresolvable_host_is_a_dns_failure(cluster: Cluster) -> None:
    async with environment(base_world(pg_url=cluster.url(host="db.invalid"))) as env:
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "does not resolve" in finding.cause
    assert "DNS" in _evidence(finding, "Connection from the bot").observed


async def test_silent_port_is_a_timeout(cluster: Cluster, blackhole: int) -> None:
    async with environment(base_world(pg_url=cluster.url(port=blackhole))) as env:
        finding = await db.run(env.context(db_timeout=0.5))
    assert finding.verdict == "problem"
    assert "no answer in time" in finding.cause


# ---- variables and Railway -------------------------------------------------------------------------


async def test_missing_database_url() -> None:
    async with environment() as env:
        env.drop_variable("DATABASE_URL")
        finding = await db.run(env.context(lang="es"))
    assert finding.verdict == "problem"
    assert "`DATABASE_URL` no está configurada" in finding.cause
    assert finding.remediation[0].startswith("Verificar que `DATABASE_URL` está configurada en Railway Variables")
    assert any(s.startswith("Copiar `DATABASE_URL` desde PostgreSQL service → Variables → DATABASE_URL")
               for s in finding.remediation)
    assert any(s.startswith("Pegar en `backend` → Variables → DATABASE_URL") for s in finding.remediation)
    assert any(s.startswith("Redeploy backend") for s in finding.remediation)
    assert [a.kind for a in finding.actions] == ["redeploy"]


async def test_url_pointing_elsewhere_is_a_mismatch_without_the_password() -> None:
    async with environment() as env:
        env.set_variables(DATABASE_URL=f"postgresql://postgres:{PG_PASSWORD}@old-db.example.com:5432/railway_old")
        finding = await db.run(env.context(db_timeout=0.3))
    assert finding.verdict == "problem"
    assert "old-db.example.com:5432/railway_old" in finding.cause
    assert "postgres.railway.internal:5432/railway" in finding.cause
    assert _evidence(finding, "Same host, port").ok is False
    assert any("Copy `DATABASE_URL`" in s for s in finding.remediation)
    _assert_no_secret(finding)


async def test_wrong_scheme() -> None:
    async with environment() as env:
        env.set_variables(DATABASE_URL=f"mysql://root:{PG_PASSWORD}@db:3306/app")
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "scheme `mysql`" in finding.cause
    _assert_no_secret(finding)


async def test_postgres_service_crashed() -> None:
    world = base_world()
    world["deployments"].append({"service": "Postgres", "status": "CRASHED", "createdAt": "now-5m"})
    async with environment(world) as env:
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "not running" in finding.cause and "CRASHED" in finding.cause
    assert finding.remediation[0].startswith("Check that the PostgreSQL service is running")
    assert finding.actions == ()  # a backend restart helps only once PostgreSQL runs again


async def test_no_railway_token_reports_railway_evidence_as_not_checked() -> None:
    async with environment() as env:
        finding = await db.run(env.context(railway=False))
    unknown = [e for e in finding.evidence if e.ok is None]
    assert unknown and all("no Railway API credential" in e.observed for e in unknown)
    assert finding.verdict == "ok"  # the backend's live check still answers
    assert _evidence(finding, "live SELECT 1").ok is True


# ---- the backend's endpoints and logs ------------------------------------------------------------


async def test_db_down_at_boot_needs_a_restart(cluster: Cluster) -> None:
    async with environment(base_world(pg_url=cluster.url())) as env:
        env.target.set_state(db_down_at_boot=True)
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "stays 503 until the backend restarts" in finding.cause
    assert _evidence(finding, "a flag set once at boot").ok is False
    assert _evidence(finding, "Connection from the bot").ok is True
    assert finding.remediation[0].startswith("Restart `backend`")
    assert [a.kind for a in finding.actions] == ["restart"]


async def test_ready_200_alone_proves_nothing_when_the_db_dies_at_runtime() -> None:
    private = f"postgresql://postgres:{PG_PASSWORD}@postgres.railway.internal:5432/railway"
    async with environment(base_world(pg_url=private)) as env:
        env.target.set_state(db_down_at_runtime=True)
        env.add_logs(["Error: connect ECONNREFUSED 10.250.12.3:5432"])
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert _evidence(finding, "a flag set once at boot").ok is True  # still 200 db:true
    assert _evidence(finding, "live SELECT 1").ok is False
    assert "right now" in finding.cause
    connect = _evidence(finding, "Connection from the bot")
    assert connect.ok is None and "private network" in connect.observed
    assert "ECONNREFUSED (10.250.12.3:5432)" in _evidence(finding, "Logs of the active").observed


async def test_p1000_in_the_logs() -> None:
    private = f"postgresql://postgres:{PG_PASSWORD}@postgres.railway.internal:5432/railway"
    async with environment(base_world(pg_url=private)) as env:
        env.add_logs(["⚠️  Database connection attempt 1/5 failed, retrying in 2000ms...",
                      "   Error: P1000: Authentication failed against database server at `postgres.railway.internal`",
                      "❌ Database connection failed after 5 attempts"])
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "P1000" in finding.cause
    logs = _evidence(finding, "Logs of the active")
    assert logs.ok is False and "1 × P1000" in logs.observed


async def test_redis_econnrefused_is_not_a_database_error() -> None:
    async with environment() as env:
        env.add_logs(["❌ Redis error: Error: connect ECONNREFUSED 10.250.0.9:6379", "  code: 'ECONNREFUSED',",
                      "}"] * 30)
        finding = await db.run(env.context(db_timeout=0.3))
    assert _evidence(finding, "Logs of the active").ok is True


async def test_safe_boot() -> None:
    private = f"postgresql://postgres:{PG_PASSWORD}@postgres.railway.internal:5432/railway"
    async with environment(base_world(pg_url=private)) as env:
        env.target.set_state(safe_boot=True)
        finding = await db.run(env.context())
    assert finding.verdict == "problem"
    assert "SAFE_BOOT" in finding.cause
