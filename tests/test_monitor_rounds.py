"""What a monitor round costs the watched service: while all is well only the readiness and live
database checks (at most two requests), the whole profile every ``full_check_every`` rounds and while a
service fails; each service at its own stable moment of the interval."""

from __future__ import annotations

from bot.incidents.monitor import phase
from bot.probe.profiles import load_profile
from bot.store import incidents as store
from tests.conftest import eventually

pytest_plugins = ["tests.incident_fixtures"]


def config(url: str, full_every: int = 3) -> str:
    # The scheduler's own rounds stay out of the way (one an hour): the test drives rounds itself.
    return (f'[[services]]\nname = "backend"\nurl = "{url}"\nprofile = "ivan-reseller-web"\n\n'
            f"[monitor]\ninterval_seconds = 3600\nfull_check_every = {full_every}\nfailures_to_open = 2\n")


def test_a_round_watches_readiness_and_the_live_database_check():
    # The real backend's /ready is a flag set at boot: its live SELECT 1 is /api/system/diagnostics.
    assert [e.path for e in load_profile("ivan-reseller-web").watched] == ["/ready", "/api/system/diagnostics"]
    # The runbook's /ready checks the database and Redis itself.
    assert [e.path for e in load_profile("runbook").watched] == ["/ready"]


def test_each_service_has_a_stable_phase_within_the_interval():
    phases = [phase(f"service-{i}", 10.0) for i in range(1000)]
    assert all(0 <= p < 10 for p in phases)
    assert phases == [phase(f"service-{i}", 10.0) for i in range(1000)]
    tenths = {int(p) for p in phases}
    assert tenths == set(range(10))  # spread over the whole interval, not bunched at its start


async def test_healthy_rounds_send_two_requests_and_every_nth_round_the_whole_profile(make_bot, target):
    bot = await make_bot(config(target.url))
    monitor = bot.chatops.monitor
    counts = []
    for _ in range(4):
        target.requests.clear()
        await monitor.round()
        counts.append(len(target.requests))
    full = len([e for e in load_profile("ivan-reseller-web").probed if not e.auth])  # no CHATOPS_HEALTH_AUTH
    assert counts[1:3] == [2, 2]
    assert counts[0] >= full and counts[3] >= full  # rounds 0 and 3 (full_check_every = 3)
    assert {r.path for r in target.requests} >= {"/health", "/ready", "/api/system/diagnostics"}


async def test_a_failing_service_gets_the_whole_profile_until_it_is_healthy(make_bot, target):
    bot = await make_bot(config(target.url, full_every=100))
    monitor = bot.chatops.monitor
    await monitor.round()  # round 0: full
    target.set_state(db_down_at_runtime=True)
    target.requests.clear()
    await monitor.round()  # the watched checks see the database down
    assert len(target.requests) == 2
    target.requests.clear()
    await monitor.round()  # failing: the whole profile, and the second failure opens the incident
    assert len(target.requests) > 2
    await eventually(lambda: store.open_for_service(bot.rt.store, "backend"), timeout=30)
    target.set_state(db_down_at_runtime=False)
    target.requests.clear()
    await monitor.round()  # an open incident keeps the whole profile in view
    assert len(target.requests) > 2
