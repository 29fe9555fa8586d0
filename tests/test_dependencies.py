"""Connection errors attributed to a dependency by the address they name."""

from __future__ import annotations

from bot.changes.logscan import scan
from playbooks import db
from playbooks.dependencies import Dependencies, Known
from tests import real_backend as real
from tests.playbook_env import environment


def _owners(deps: Dependencies, *lines: str) -> dict[str, str]:
    return {address: deps.owner(errors) for address, errors in scan(list(lines)).connection_errors.items()}


def test_by_address_then_by_port_for_a_resolved_ip_else_another_dependency() -> None:
    deps = Dependencies(database=Known("postgres.railway.internal", 5432), redis=Known("127.0.0.1", 6390))
    assert _owners(deps, "Error: connect ECONNREFUSED 127.0.0.1:6390",
                   "Error: connect ECONNREFUSED fd12::7:5432",  # Node prints the resolved address
                   "Error: getaddrinfo ENOTFOUND postgres.railway.internal",
                   "Error: connect ETIMEDOUT 10.0.0.5:9200") == {
        "127.0.0.1:6390": "redis", "fd12::7:5432": "database", "postgres.railway.internal": "database",
        "10.0.0.5:9200": "other"}


def test_same_host_known_only_from_config_the_default_port_decides() -> None:
    deps = Dependencies(database=Known("127.0.0.1", None), redis=Known("127.0.0.1", None))
    assert _owners(deps, "Error: connect ECONNREFUSED 127.0.0.1:5432", "Error: connect ECONNREFUSED 127.0.0.1:6379",
                   "Error: connect ECONNREFUSED 127.0.0.1:8081") == {
        "127.0.0.1:5432": "database", "127.0.0.1:6379": "redis", "127.0.0.1:8081": "other"}


def test_a_redis_error_head_names_redis_when_its_url_is_unknown() -> None:
    assert _owners(Dependencies(), "❌ Redis error: Error: connect ECONNREFUSED 10.1.2.3:6379",
                   "Error: connect ECONNREFUSED 10.1.2.3:6379") == {"10.1.2.3:6379": "redis"}
    assert _owners(Dependencies(), "Error: connect ECONNREFUSED 10.1.2.3:5432") == {"10.1.2.3:5432": "other"}


async def test_the_db_playbook_names_another_dependencys_errors_without_blaming_the_database() -> None:
    async with environment() as env:
        env.add_logs([line for _ in range(30) for line in real.redis_refused_block("10.0.0.5", 9200)])
        finding = await db.run(env.context())
    assert finding.verdict == "ok", finding
    logs = next(e for e in finding.evidence if e.check.startswith("Logs of the active"))
    assert logs.ok is True and logs.observed.endswith("; 30 × ECONNREFUSED to another dependency (10.0.0.5:9200)")
