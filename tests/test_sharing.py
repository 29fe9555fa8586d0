"""Replicas share the watch: rendezvous hashing with bounded loads gives each service one owner and
each live replica an even share;
two real bots on one PostgreSQL probe disjoint halves, and when one dies the other takes all of them
within the lease.

Takeover bounds are counted in the survivor's own heartbeats (one every third of the lease), not in
seconds: a busy machine delays each heartbeat, so it cannot make a correct takeover look late."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.incidents.sharing import owner
from bot.store.migrate import upgrade_async
from sandbox.emulators.target import TargetEmulator
from tests.conftest import count_calls, eventually

# Long enough that a heartbeat delayed by a busy machine does not look like a death (it would move
# services back and forth mid-test).
LEASE = 3.0
SERVICES = [f"svc-{i:02d}" for i in range(24)]


def config(url: str) -> str:
    services = "".join(f'[[services]]\nname = "{name}"\nurl = "{url}"\nprofile = "ivan-reseller-web"\n\n'
                       for name in SERVICES)
    return services + f"[monitor]\ninterval_seconds = 0.2\nlease_seconds = {LEASE}\n"


@pytest.fixture
async def target():
    emu = TargetEmulator()
    await emu.start()
    yield emu
    await emu.stop()


def test_every_replica_gets_an_even_share_and_a_newcomer_takes_mostly_from_the_others():
    names = [f"service-{i}" for i in range(1000)]
    for count in (100, 101, 1000):
        two = [owner(name, ["a", "b"], names[:count]) for name in names[:count]]
        assert abs(two.count("a") - two.count("b")) <= 1  # within one service, not just on average
    two = {name: owner(name, ["a", "b"], names) for name in names}
    three = {name: owner(name, ["a", "b", "c"], names) for name in names}
    counts = [list(three.values()).count(r) for r in "abc"]
    assert max(counts) <= 334 and min(counts) >= 1000 - 2 * 334  # nobody above its share (1,000 / 3, rounded up)
    moved = [name for name in names if three[name] != two[name]]
    assert len(moved) <= counts[2] + 0.05 * len(names)  # what the newcomer takes, and few moves between a and b
    assert owner("x", ["b", "a"], ["y", "x"]) == owner("x", ["a", "b"], ["x", "y"])  # order does not matter


async def _probed_after_settling(*bots) -> tuple[list[set[str]], set[str]]:
    """The services each replica starts probing once all see the same live set. A probe already running
    when the views settled may still finish afterwards: those are left out."""
    await eventually(lambda: all(b.chatops.replicas.live == bots[0].chatops.replicas.live
                                 and len(b.chatops.replicas.live) == len(bots) for b in bots), timeout=30)
    running = set()
    for b in bots:
        running |= set(b.chatops.monitor._in_flight)
        b.chatops.monitor.states.clear()
    ticks = [b.chatops.monitor.ticks for b in bots]
    await eventually(lambda: all(b.chatops.monitor.ticks >= t + 3 for b, t in zip(bots, ticks, strict=True)),
                     timeout=30)
    return [set(b.chatops.monitor.states) - running for b in bots], running


async def test_two_replicas_split_the_services_and_one_takes_all_when_the_other_dies(pg_url, make_bot, target):
    await upgrade_async(pg_url)
    a = await make_bot(config(target.url), database_url=pg_url)
    b = await make_bot(config(target.url), database_url=pg_url)
    (seen_a, seen_b), running = await _probed_after_settling(a, b)
    assert seen_a and seen_b and not seen_a & seen_b
    mine = {s for s in SERVICES if owner(s, a.chatops.replicas.live, SERVICES) == a.chatops.replicas.holder}
    assert seen_a == mine - running and seen_b == set(SERVICES) - mine - running

    beats = count_calls(a.chatops.replicas, "beat")
    await b.crash()  # no clean leave: its heartbeat has to run out
    await eventually(lambda: a.chatops.replicas.live == [a.chatops.replicas.holder], timeout=30)
    # b's heartbeat lasted at most LEASE from its last beat: three of a's beats, then the one that sees it
    # gone (and one more if a beat met the expiry to the instant).
    assert beats() <= 5, beats()
    (seen,), running = await _probed_after_settling(a)
    assert seen == set(SERVICES) - running


async def test_a_clean_stop_hands_its_services_over_at_once(pg_url, make_bot, target):
    await upgrade_async(pg_url)
    a = await make_bot(config(target.url), database_url=pg_url)
    b = await make_bot(config(target.url), database_url=pg_url)
    await eventually(lambda: len(a.chatops.replicas.live) == 2, timeout=30)
    beats = count_calls(a.chatops.replicas, "beat")
    await b.stop()
    async with a.rt.store.session() as session:  # b's heartbeat row is gone, not left to expire
        holders = (await session.execute(text("SELECT holder FROM leases WHERE name LIKE 'replica:%'"))).scalars().all()
    assert holders == [a.chatops.replicas.holder]
    await eventually(lambda: len(a.chatops.replicas.live) == 1, timeout=30)
    # a's next heartbeat sees it (two if one was in flight); waiting for the expiry would take three.
    assert beats() <= 2, beats()
