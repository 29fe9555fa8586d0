"""Identical probes in flight share one run (fifty people typing /health backend at once)."""

from __future__ import annotations

import asyncio

import pytest

from bot.probe import Coalescer, probe_key
from tests.probe_helpers import prober, service

pytest_plugins = ["tests.probe_fixtures"]


async def test_fifty_identical_requests_share_one_probe_run(emu, http):
    emu.set_fault("/health", "slow", ms=150)
    coalescer = Coalescer()
    svc = service(emu.url)
    p = prober(http, endpoint_timeout=10, total_timeout=15)  # counts requests: none may time out before it is sent
    reports = await asyncio.gather(*(coalescer.run(probe_key(svc), lambda: p.probe_service(svc)) for _ in range(50)))
    assert len(reports) == 50 and all(r is reports[0] for r in reports)
    assert len(emu.requests_to("/health")) == 1
    assert coalescer.in_flight == 0
    # Once finished, the next request probes again.
    again = await coalescer.run(probe_key(svc), lambda: p.probe_service(svc))
    assert again is not reports[0] and len(emu.requests_to("/health")) == 2


async def test_different_keys_do_not_share(emu, http):
    coalescer = Coalescer()
    p = prober(http, endpoint_timeout=10, total_timeout=15)  # counts requests: none may time out before it is sent
    a, b = service(emu.url, name="a"), service(emu.url, name="b", profile="runbook")
    ra, rb = await asyncio.gather(coalescer.run(probe_key(a), lambda: p.probe_service(a)),
                                  coalescer.run(probe_key(b), lambda: p.probe_service(b)))
    assert (ra.name, rb.name) == ("a", "b") and len(emu.requests_to("/health")) == 2
    assert probe_key(a, "/ready") != probe_key(a)


async def test_one_waiter_giving_up_does_not_cancel_the_others():
    coalescer = Coalescer()
    release = asyncio.Event()
    runs = 0

    async def work() -> str:
        nonlocal runs
        runs += 1
        await release.wait()
        return "done"

    first = asyncio.create_task(coalescer.run("k", work))
    second = asyncio.create_task(coalescer.run("k", work))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == "done" and runs == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_an_error_reaches_every_waiter_and_is_not_cached():
    coalescer = Coalescer()

    async def boom() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("probe bug")

    results = await asyncio.gather(coalescer.run("k", boom), coalescer.run("k", boom), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    assert coalescer.in_flight == 0
