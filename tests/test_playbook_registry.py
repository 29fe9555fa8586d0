"""The playbook registry and runner: discovery, concurrency, time bounds and failure isolation."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import warnings
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.config.services import parse_services
from playbooks import ALL, get_playbook, playbook_names, playbooks_for_symptom, run_playbooks
from playbooks.base import Evidence, Finding, Playbook, PlaybookContext
from playbooks.registry import run_one, select
from tests.playbook_env import environment


@pytest.fixture
async def ctx() -> AsyncIterator[PlaybookContext]:
    services = parse_services('[[services]]\nname = "backend"\nurl = "http://127.0.0.1:9"\n')
    async with httpx.AsyncClient() as http:
        yield PlaybookContext(service=services.service("backend"), services=services, http=http)


def _sleeper(name: str, seconds: float) -> Playbook:
    async def run(ctx: PlaybookContext) -> Finding:
        await asyncio.sleep(seconds)
        return Finding(name, "ok", "fine", (Evidence("slept", f"{seconds}s", True),))

    return Playbook(name, (), (), run)


def test_every_module_with_a_playbook_is_registered_in_order() -> None:
    assert playbook_names() == ["db", "redis", "cors", "jwt", "memory"]
    assert get_playbook("cors").name == "cors" and get_playbook("nope") is None
    assert [p.name for p in select(ALL)] == playbook_names()
    with pytest.raises(KeyError):
        select(["db", "nope"])


def test_symptoms_point_to_playbooks() -> None:
    assert [p.name for p in playbooks_for_symptom("ready_failing")] == ["db"]
    assert [p.name for p in playbooks_for_symptom("db_down_at_boot")] == ["db"]
    assert [p.name for p in playbooks_for_symptom("cors_rejected")] == ["cors"]
    assert [p.name for p in playbooks_for_symptom("overload")] == ["memory"]
    assert [p.name for p in playbooks_for_symptom("JWT")] == ["jwt"]
    assert playbooks_for_symptom("weather") == []


async def test_playbooks_run_concurrently(ctx: PlaybookContext) -> None:
    """Each playbook waits for the other two at a barrier: run one after another, the first would wait
    there until its time bound and come back ``unknown``."""
    barrier = asyncio.Barrier(3)

    def meeting(name: str) -> Playbook:
        sleep = _sleeper(name, 0.3)

        async def run(ctx: PlaybookContext) -> Finding:
            await barrier.wait()
            return await sleep.run(ctx)

        return Playbook(name, (), (), run)

    findings = await run_playbooks([meeting("a"), meeting("b"), meeting("c")], ctx, timeout=30)
    assert [f.playbook for f in findings] == ["a", "b", "c"]
    assert all(f.verdict == "ok" for f in findings), [f.cause for f in findings]
    assert all(f.elapsed_ms >= 290 for f in findings)


async def test_a_failing_or_hanging_playbook_never_breaks_the_others(ctx: PlaybookContext) -> None:
    async def boom(ctx: PlaybookContext) -> Finding:
        raise RuntimeError("cannot parse postgresql://admin:hunter2-secret@db:5432/x")

    async def hang(ctx: PlaybookContext) -> Finding:
        await asyncio.sleep(60)  # a minute: without its bound the run would end with this "ok"
        return Finding("hang", "ok", "answered after a minute")

    start = time.perf_counter()
    findings = await run_playbooks([Playbook("boom", (), (), boom), _sleeper("fine", 0.1),
                                    Playbook("hang", (), (), hang)], ctx, timeout=1)
    elapsed = time.perf_counter() - start
    by_name = {f.playbook: f for f in findings}
    assert by_name["fine"].verdict == "ok"
    assert by_name["boom"].verdict == "unknown"
    assert "RuntimeError: cannot parse" in by_name["boom"].cause and "hunter2-secret" not in by_name["boom"].cause
    assert by_name["hang"].verdict == "unknown"
    assert "did not finish within 1 s" in by_name["hang"].cause
    assert by_name["hang"].remediation
    assert by_name["hang"].elapsed_ms >= 950
    # The hang lasts a minute: only the 1 s bound ends the run sooner. Asserting < 30 s leaves a margin of
    # 30 times the bound, which no load closes.
    assert elapsed < 30


async def test_unknown_findings_are_in_the_context_language(ctx: PlaybookContext) -> None:
    async def hang(ctx: PlaybookContext) -> Finding:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    ctx.lang = "es"
    finding = await run_one(Playbook("hang", (), (), hang), ctx, timeout=0.1)
    assert finding.verdict == "unknown" and finding.cause.startswith("El playbook no terminó")


async def test_shared_evidence_survives_a_waiter_that_times_out(ctx: PlaybookContext) -> None:
    calls = 0

    async def slow_source() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return "value"

    async def impatient() -> None:
        async with asyncio.timeout(0.05):
            await ctx.shared("k", slow_source)

    with pytest.raises(TimeoutError):
        await impatient()
    assert await ctx.shared("k", slow_source) == "value"
    assert calls == 1
    await ctx.cancel_pending()


async def test_all_real_playbooks_run_concurrently_against_a_slow_railway() -> None:
    """Every Railway answer is held 0.15 s. Run alone, no playbook has more than a few requests waiting at
    once; run together, Railway sees more at once than any one of them makes: their waits overlap."""
    async with environment() as env:
        env.railway.inject("slow", count=None, delay=0.15)
        alone = []
        for playbook in select(ALL):
            env.railway.peak_in_flight = 0
            [finding] = await run_playbooks([playbook], env.context(db_timeout=0.3), timeout=30)
            assert finding.verdict == "ok", (finding.playbook, finding.cause)
            alone.append(env.railway.peak_in_flight)
        env.railway.peak_in_flight = 0
        findings = await run_playbooks(ALL, env.context(db_timeout=0.3), timeout=30)
        together = env.railway.peak_in_flight
    assert [f.playbook for f in findings] == ["db", "redis", "cors", "jwt", "memory"]
    assert all(f.verdict == "ok" for f in findings), [(f.playbook, f.cause) for f in findings if f.verdict != "ok"]
    assert together > max(alone), (together, alone)


async def test_playbooks_cancelled_at_any_step_leave_no_coroutine_unawaited() -> None:
    """An incident's evidence cut short at shutdown cancels the playbooks wherever they are. Cancelled
    right after a playbook started its ``asyncio.gather`` of evidence, ``attempt(ev.variables(ctx))``
    used to leave the ``variables`` coroutine made but never awaited (a RuntimeWarning for each such
    coroutine). ``attempt`` takes a factory now, so nothing is made before it runs."""
    async with environment() as env:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for steps in range(6):  # cancel after 0, 1, … loop iterations: the playbooks' first steps
                task = asyncio.create_task(run_playbooks(ALL, env.context(db_timeout=0.3), timeout=10))
                for _ in range(steps):
                    await asyncio.sleep(0)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                gc.collect()
        unawaited = sorted({str(w.message) for w in seen if "never awaited" in str(w.message)})
        assert unawaited == []
        # The same playbooks still run whole when nobody cancels them.
        findings = await run_playbooks(ALL, env.context(db_timeout=0.3), timeout=10)
    assert [f.playbook for f in findings] == ["db", "redis", "cors", "jwt", "memory"]
