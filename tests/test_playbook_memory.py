"""The memory playbook: Railway metrics (usage, growth between restarts, CPU), deployments and logs."""

from __future__ import annotations

from playbooks import memory
from playbooks.base import Finding
from tests import real_backend as real
from tests.playbook_env import base_world, environment


def _evidence(finding: Finding, fragment: str):
    found = [e for e in finding.evidence if fragment in e.check]
    assert found, [e.check for e in finding.evidence]
    return found[0]


def _ramp(start: float, end: float, n: int) -> list[float]:
    return [round(start + (end - start) * i / (n - 1), 4) for i in range(n)]


def _redis_block(port: int = 6379) -> list[str]:
    return [f"❌ Redis error: Error: connect ECONNREFUSED 10.250.0.9:{port}",
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {",
            "  errno: -111,", "  code: 'ECONNREFUSED',", "  syscall: 'connect',", f"  port: {port}", "}"]


# ---- the trend on its own ----------------------------------------------------------------------------


def test_analyse_flat_growing_and_sawtooth() -> None:
    t0 = 1_800_000_000
    flat = [(t0 + 60 * i, 0.5 + (0.01 if i % 2 else 0)) for i in range(60)]
    assert not memory.analyse(flat, 8).steady_growth
    growing = [(t0 + 60 * i, v) for i, v in enumerate(_ramp(1.0, 3.0, 60))]
    trend = memory.analyse(growing, 8)
    assert trend.steady_growth and abs(trend.slope_gb_per_hour - 2.0 * 60 / 59) < 0.01 and trend.r2 > 0.99
    saw = [(t0 + 60 * i, v) for i, v in enumerate(_ramp(0.3, 1.6, 20) * 3)]
    trend = memory.analyse(saw, 2)
    assert len(trend.restarts) == 2 and trend.growing_segments == 3


# ---- scenarios -----------------------------------------------------------------------------------


async def test_healthy() -> None:
    async with environment() as env:
        finding = await memory.run(env.context())
    assert finding.verdict == "ok", finding
    assert _evidence(finding, "Memory against the limit").observed == "512 MB of 8.00 GB (6 %)"
    assert not finding.actions


async def test_high_and_flat_points_to_the_plan() -> None:
    async with environment() as env:
        env.set_metric("MEMORY_USAGE_GB", [1.72 + (0.01 if i % 3 else 0) for i in range(61)])
        env.set_metric("MEMORY_LIMIT_GB", [2.0] * 61)
        finding = await memory.run(env.context())
    assert finding.verdict == "problem"
    assert "plan may be too small (runbook step 3)" in finding.cause
    usage = _evidence(finding, "Memory against the limit")
    assert usage.ok is False and "(86 %)" in usage.observed
    assert _evidence(finding, "Memory growth").ok is True
    assert [a.kind for a in finding.actions] == ["restart"]


async def test_steady_growth_is_a_leak() -> None:
    async with environment() as env:
        env.set_metric("MEMORY_USAGE_GB", _ramp(1.0, 3.0, 61))
        finding = await memory.run(env.context(lang="es"))
    assert finding.verdict == "problem"
    assert "memory leak en el código" in finding.cause
    growth = _evidence(finding, "Crecimiento de la memoria")
    assert growth.ok is False and "llega al límite en unos" in growth.observed
    assert any(s.startswith("Revisar código para memory leaks (Puppeteer sin cerrar, conexiones DB sin cerrar)")
               for s in finding.remediation)
    assert any(s.startswith("Revisar logs para identificar memory leaks") for s in finding.remediation)


async def test_restarts_between_growth_show_as_a_sawtooth() -> None:
    async with environment() as env:
        env.set_metric("MEMORY_USAGE_GB", (_ramp(0.4, 1.9, 20) * 3)[:61])
        env.set_metric("MEMORY_LIMIT_GB", [2.0] * 60)
        finding = await memory.run(env.context())
    assert finding.verdict == "problem"
    restarts = _evidence(finding, "Restarts in the last hour")
    assert restarts.ok is False and "2 unexplained restart(s)" in restarts.observed
    assert "leak" in finding.cause


async def test_redis_flood_points_to_bullmq_and_the_redis_playbook_without_a_restart() -> None:
    async with environment() as env:
        env.add_logs([line for _ in range(120) for line in _redis_block()])
        finding = await memory.run(env.context())
    assert finding.verdict == "problem"
    assert "Redis is failing: 120 Redis connection error blocks" in finding.cause
    assert "(BullMQ)" in finding.cause and "runbook step 2" in finding.cause
    assert "`/diagnose redis backend` says why" in finding.cause
    redis = _evidence(finding, "Redis connection errors")
    assert redis.ok is False and redis.observed.startswith("120 Redis error block(s) in ")
    assert any("BullMQ" in s for s in finding.remediation)
    assert any("chatops diagnose redis backend" in s for s in finding.remediation)
    assert finding.actions == ()  # a restart does not bring Redis back


async def test_a_bare_node_redis_flood_is_counted_by_its_address() -> None:
    """The real backend prints a Redis outage without the word Redis: REDIS_URL's address names it."""
    async with environment() as env:
        env.set_variables(REDIS_URL="redis://default:pw-0123456789@127.0.0.1:6390")
        env.add_logs([line for _ in range(60) for line in real.redis_refused_block()])
        finding = await memory.run(env.context())
    redis = _evidence(finding, "Redis connection errors")
    assert redis.ok is False and redis.observed.startswith("60 Redis error block(s) in ")
    assert "Error: connect ECONNREFUSED 127.0.0.1:6390" in redis.observed
    assert "`/diagnose redis backend`" in finding.cause and finding.actions == ()


async def test_a_few_redis_errors_are_no_flood() -> None:
    async with environment() as env:
        env.add_logs([line for _ in range(3) for line in _redis_block()])
        finding = await memory.run(env.context())
    assert finding.verdict == "ok"
    assert _evidence(finding, "Redis connection errors").ok is True


async def test_heap_exhaustion_and_a_crashed_deployment() -> None:
    world = base_world()
    world["deployments"].append({"service": "backend", "status": "CRASHED", "createdAt": "now-2h", "logs": [
        {"timestamp": "+95s", "message": "[BOOT] Express app loaded - full routing active"},
        {"timestamp": "+245s", "message": "<--- Last few GCs --->"},
        {"timestamp": "+246s", "message": "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out "
                                          "of memory"}]})
    async with environment(world) as env:
        finding = await memory.run(env.context())
    assert finding.verdict == "problem"
    assert "runs out of heap" in finding.cause
    assert _evidence(finding, "Crashed deployments").ok is False
    assert _evidence(finding, "heap exhaustion").ok is False
    assert any("--max-old-space-size" in s for s in finding.remediation)


async def test_browser_leaks() -> None:
    async with environment() as env:
        env.add_logs(["Error: Failed to launch the browser process!",
                      "ProtocolError: Protocol error (Target.createTarget): Target closed."])
        finding = await memory.run(env.context())
    assert finding.verdict == "problem"
    assert "Puppeteer" in finding.cause and "runbook step 4" in finding.cause


async def test_cpu_over_80_percent() -> None:
    async with environment() as env:
        env.set_metric("CPU_USAGE", [0.2] * 55 + [7.2] * 6)
        finding = await memory.run(env.context())
    assert finding.verdict == "problem"
    cpu = _evidence(finding, "CPU against the limit")
    assert cpu.ok is False and "(90 %)" in cpu.observed
    assert finding.cause == "CPU is above 80 % of the limit."
    assert not finding.actions


async def test_without_railway_it_is_unknown() -> None:
    async with environment() as env:
        finding = await memory.run(env.context(railway=False))
    assert finding.verdict == "unknown"
    assert all(e.ok is None for e in finding.evidence)
