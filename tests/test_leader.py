"""Exactly one replica holds the lease (and runs the deploy watch): two real bots on one PostgreSQL, each
with its own engine and holder id. When the holder dies (stopped without releasing its lease) the other
takes over within the lease; a clean shutdown hands over at once. (The monitor is shared by every
replica: tests/test_sharing.py.)

Bounds are counted in the survivor's own renewals (one every third of the lease), not in seconds: a
busy machine delays each renewal, so it cannot make a correct takeover look late."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.store import Store
from bot.store.leases import LeaseRow
from bot.store.migrate import upgrade_async
from sandbox.emulators.target import TargetEmulator
from tests.conftest import count_calls, eventually

# Long enough that a renewal delayed by a busy machine does not look like a death (two leaders for a moment).
LEASE = 3.0
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
    await eventually(lambda: len(leaders(a, b)) == 1, timeout=30)
    for _ in range(15):  # never two, across several renewals
        assert len(leaders(a, b)) == 1
        await asyncio.sleep(LEASE / 10)
    holder = leaders(a, b)[0]
    other = b if holder is a else a
    lease = LeaseRow(other.rt.store, "watchers", "observer", LEASE)
    assert await lease.current_holder() == holder.chatops.leadership.holder

    attempts = count_calls(other.chatops.leadership.lease, "acquire")
    await holder.crash()  # dies: tasks cancelled, engine disposed, the lease is not released
    assert await lease.current_holder() == holder.chatops.leadership.holder
    await eventually(lambda: other.chatops.leadership.is_leader, timeout=30)
    # The dead holder's lease lasted at most LEASE from its last renewal: three of the survivor's
    # attempts, then the one that takes it (and one more if an attempt met the expiry to the instant).
    assert attempts() <= 5, attempts()
    assert await lease.current_holder() == other.chatops.leadership.holder


async def test_clean_shutdown_hands_over_at_once(pg_url, make_bot, target):
    a, b = await two_bots(make_bot, pg_url, target)
    await eventually(lambda: len(leaders(a, b)) == 1, timeout=30)
    holder = leaders(a, b)[0]
    other = b if holder is a else a
    attempts = count_calls(other.chatops.leadership.lease, "acquire")
    await holder.chatops.leadership.release()
    assert not holder.chatops.leadership.is_leader
    async with other.rt.store.session() as session:  # freed by the database's own clock, not left to expire
        row = (await session.execute(text("SELECT holder, expires_at < now() AS free FROM leases"
                                          " WHERE name = 'watchers'"))).one()
    assert row.free or row.holder == other.chatops.leadership.holder  # (the other may have taken it already)
    await eventually(lambda: other.chatops.leadership.is_leader, timeout=30)
    # The next attempt takes it (two if one was in flight); waiting for the expiry would take three.
    assert attempts() <= 2, attempts()


async def test_lease_row_is_taken_only_when_expired(db_url):
    from bot.store.migrate import upgrade_async as migrate

    await migrate(db_url)
    store = Store(db_url)
    try:
        first, second = LeaseRow(store, "x", "first", 30), LeaseRow(store, "x", "second", 30)
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.acquire()  # renewal
        assert await LeaseRow(store, "x", "first", -1).acquire()  # a renewal whose lease has run out
        assert await second.acquire()  # expired: taken over
        assert not await first.acquire()
        await second.release()
        assert await first.acquire()  # released: free at once
    finally:
        await store.dispose()
