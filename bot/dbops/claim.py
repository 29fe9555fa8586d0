"""One replica runs a database change at a time, and a restart carries on what a dead one left.

While a change runs, its replica holds the lease row ``leases.change-<request id>``, renewed every third
of ``[monitor] lease_seconds``. A replica that resumes a change when it starts and finds the lease held
waits: the holder finishes the change, or dies and its lease runs out, and then this one carries on
from what was recorded. So a change in flight on a live replica is never taken up a second time by a
replica starting beside it (a deploy's overlap), and one whose replica died is not left running with
nobody following it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.i18n import t
from bot.incidents.leadership import LeaseRow
from bot.runtime import Runtime
from bot.slack import post as slack_messages
from bot.store import actions

logger = logging.getLogger(__name__)
_fence: contextvars.ContextVar[actions.Fence | None] = contextvars.ContextVar("change_fence", default=None)


def fence() -> actions.Fence | None:
    """The lease of the change this task runs under ``claim``: pass it to ``actions.update_params`` when
    recording a step that is about to be sent, so a replica that lost the lease records and sends nothing."""
    return _fence.get()


@dataclass(frozen=True)
class Claim:
    lease: LeaseRow
    request: actions.ActionRequest  # as last recorded, read once the lease was held


@contextlib.asynccontextmanager
async def claim(rt: Runtime, request_id: str, holder: str, *, resumed: bool) -> AsyncIterator[Claim | None]:
    """The running change, held by ``holder`` for the block; None when it ended elsewhere meanwhile.
    ``resumed``: a restart cut it off, which its thread is told."""
    lease = LeaseRow(rt.store, f"change-{request_id}", holder, rt.config.monitor.lease_seconds)
    while not await lease.acquire():
        current = await actions.get(rt.store, request_id)
        if current is None or current.status in actions.FINAL:
            yield None
            return
        await asyncio.sleep(lease.ttl / 3)
    renewing = asyncio.create_task(_renew(lease), name=f"lease-{lease.name}")
    token = _fence.set(actions.Fence(lease.name, holder, lease.ttl))
    try:
        current = await actions.get(rt.store, request_id)
        if current is None or current.status != actions.RUNNING:
            yield None
            return
        if resumed:
            await _announce_resumed(rt, current)
        yield Claim(lease, current)
    finally:
        _fence.reset(token)
        renewing.cancel()
        await asyncio.shield(lease.release())


async def _renew(lease: LeaseRow) -> None:
    while True:
        await asyncio.sleep(lease.ttl / 3)
        try:
            if not await lease.acquire():
                logger.warning("lease %s was taken over: another replica carries the change on", lease.name)
                return
        except Exception:
            logger.warning("could not renew lease %s", lease.name, exc_info=True)


async def _announce_resumed(rt: Runtime, req: actions.ActionRequest) -> None:
    """A change a restart cut off is carried on: an event, an audit row, and a line in its thread, so
    nobody is left reading a message that stopped moving."""
    await actions.log_event(rt.store, req.id, "resumed", data={"step": sorted(req.params or {})})
    rt.audit.received(kind="system", name=f"{req.action}.resumed", outcome="resumed", subject=req.id,
                      detail="the bot restarted while it ran; carried on from its last recorded step")
    if req.channel_id:
        await slack_messages.post(rt, req.channel_id, t("db.resumed", req.lang), thread_ts=req.message_ts)
