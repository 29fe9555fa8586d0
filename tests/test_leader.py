"""Exactly one replica holds the lease (and runs the deploy watch): two real bots on one PostgreSQL, each
with its own engine and holder id. When the holder dies (stopped without releasing its lease) the other
takes over within the lease; a clean shutdown hands over at once. (The monitor is shared by every
replica: tests/test_sharing.py.)"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.incidents.leadership import LeaseRow
from bot.store import Store
from bot.store.migrate import upgrade_async
from sandbox.emulators.target import TargetEmulator
from tests.conftest import eventually

LEASE = 1.0
CONFIG = """
[[services]]
name = "backend"
url = "{url}"
profile = "ivan-reseller-web"

[monitor]
interval_seconds = 0.1
lease_seconds = {lease}
"""


@pytest.fixture
async def target():
    emu = TargetEmulator()
    await emu.start()
    yield emu
    await emu.stop()


async def two_bots(make_bot, pg_url: str, target):
    await upgrade_async(pg_url)
    text = CONFIG.format(url=target.url, lease=LEASE)
    return await make_bot(text, database_url=pg_url), await make_bot(text, database_url=pg_url)


def leaders(*bots) -> list:
    return [b for b in bots if b.chatops.leadership.is_leader]


async def test_one_leader_then_takeover_when_it_dies(pg_url, make_bot, target):
    a, b = await two_bots(make_bot, pg_url, target)
    await eventually(lambda: len(leaders(a, b)) == 1, timeout=5)
    for _ in range(15):  # never two, across several renewals
        assert len(leaders(a, b)) == 1
        await asyncio.sleep(LEASE / 10)
    holder = leaders(a, b)[0]
    other = b if holder is a else a
    lease = LeaseRow(other.rt.store, "watchers", "observer", LEASE)
    assert await lease.current_holder() == holder.chatops.leadership.holder

    await holder.crash()  # dies: tasks cancelled, engine disposed, the lease is not released
    died = time.monotonic()
    assert await lease.current_holder() == holder.chatops.leadership.holder
    await eventually(lambda: other.chatops.leadership.is_leader, timeout=5)
    assert time.monotonic() - died <= LEASE + LEASE / 3 + 0.5
    assert await lease.current_holder() == other.chatops.leadership.holder


async def test_clean_shutdown_hands_over_at_once(pg_url, make_bot, target):
    a, b = await two_bots(make_bot, pg_url, target)
    await eventually(lambda: len(leaders(a, b)) == 1, timeout=5)
    holder = leaders(a, b)[0]
    other = b if holder is a else a
    await holder.chatops.leadership.release()
    assert not holder.chatops.leadership.is_leader
    released = time.monotonic()
    await eventually(lambda: other.chatops.leadership.is_leader, timeout=5)
    assert time.monotonic() - released <= LEASE / 3 + 0.5  # the next renewal, not the lease expiry


async def test_lease_row_is_taken_only_when_expired(db_url):
    from bot.store.migrate import upgrade_async as migrate

    await migrate(db_url)
    store = Store(db_url)
    try:
        first, second = LeaseRow(store, "x", "first", 0.5), LeaseRow(store, "x", "second", 0.5)
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.acquire()  # renewal
        await asyncio.sleep(0.7)
        assert await second.acquire()  # expired: taken over
        assert not await first.acquire()
        await second.release()
        assert await first.acquire()  # released: free at once
    finally:
        await store.dispose()
