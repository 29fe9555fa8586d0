"""Guarded transitions decide exactly one winner, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.store import Store, actions
from bot.store.migrate import upgrade_async


async def _store(url: str) -> Store:
    await upgrade_async(url)
    return Store(url)


async def test_twenty_concurrent_approvals_have_one_winner(db_url):
    store = await _store(db_url)
    try:
        req = await actions.create(store, action="rollback", service="backend", requested_by="U1",
                                   ttl=timedelta(minutes=30), target_deployment={"id": "d1"})
        decisions = await asyncio.gather(*(actions.approve(store, req.id, f"U{i + 2}") for i in range(20)))
        winners = [d for d in decisions if d.won]
        assert len(winners) == 1
        assert all(d.request.status == actions.APPROVED for d in decisions)
        assert all(d.request.decided_by == winners[0].request.decided_by for d in decisions)
        starts = await asyncio.gather(*(actions.start(store, req.id) for _ in range(5)))
        assert sum(s.won for s in starts) == 1
        kinds = [e.kind for e in await actions.events(store, req.id)]
        assert kinds == ["requested", "approved", "running"]
    finally:
        await store.dispose()


async def test_reject_then_approve_loses_and_expired_cannot_be_approved(db_url):
    store = await _store(db_url)
    try:
        req = await actions.create(store, action="rollback", service="backend", requested_by="U1",
                                   ttl=timedelta(minutes=30))
        assert (await actions.reject(store, req.id, "U2", "not now")).won
        late = await actions.approve(store, req.id, "U3")
        assert not late.won and late.request.status == actions.REJECTED
        assert late.request.decision_note == "not now"

        old = await actions.create(store, action="rollback", service="backend", requested_by="U1",
                                   ttl=timedelta(seconds=-1))
        assert not (await actions.approve(store, old.id, "U2")).won
        assert [r.id for r in await actions.due_for_expiry(store)] == [old.id]
        assert (await actions.expire(store, old.id)).request.status == actions.EXPIRED
    finally:
        await store.dispose()


async def test_unfinished_requests_can_be_interrupted_once(db_url):
    store = await _store(db_url)
    try:
        req = await actions.create(store, action="rollback", service="backend", requested_by="U1",
                                   ttl=timedelta(minutes=30))
        await actions.approve(store, req.id, "U2")
        await actions.start(store, req.id)
        assert [r.id for r in await actions.unfinished(store)] == [req.id]
        assert (await actions.interrupt(store, req.id, "bot restarted")).won
        assert not (await actions.interrupt(store, req.id, "again")).won
        assert not (await actions.finish(store, req.id, succeeded=True, verdict="healthy")).won
        assert await actions.unfinished(store) == []
    finally:
        await store.dispose()


async def test_only_one_pending_request_per_service_and_change(db_url):
    store = await _store(db_url)
    try:
        attempts = await asyncio.gather(*(actions.create(store, action="rollback", service="backend",
                                                         requested_by=f"U{i}", ttl=timedelta(minutes=30))
                                          for i in range(10)), return_exceptions=True)
        created = [a for a in attempts if not isinstance(a, Exception)]
        assert len(created) == 1
        assert all(isinstance(a, actions.AlreadyPending) for a in attempts if isinstance(a, Exception))
        # another change, or another service, is independent; an expired one makes room
        await actions.create(store, action="restart", service="backend", requested_by="U1", ttl=timedelta(minutes=1))
        await actions.create(store, action="rollback", service="frontend", requested_by="U1",
                             ttl=timedelta(seconds=-1))
        again = await actions.create(store, action="rollback", service="frontend", requested_by="U2",
                                     ttl=timedelta(minutes=30))
        assert again.status == actions.PENDING
    finally:
        await store.dispose()


async def test_trigger_ids_are_remembered_for_the_replay_window_then_forgotten(db_url):
    from sqlalchemy import update

    from bot.store.audit import claim_trigger, forget_old_triggers
    from bot.store.models import SeenRequest, utcnow

    store = await _store(db_url)
    try:
        assert await claim_trigger(store, "old") and await claim_trigger(store, "new")
        async with store.session() as session:
            await session.execute(update(SeenRequest).where(SeenRequest.trigger_id == "old")
                                  .values(at=utcnow() - timedelta(minutes=11)))
        await forget_old_triggers(store)
        assert not await claim_trigger(store, "new")  # still inside the window: a replay
        assert await claim_trigger(store, "old")  # forgotten: the row was removed
    finally:
        await store.dispose()
