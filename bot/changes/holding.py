"""One replica runs a change at a time: it holds the lease row ``leases.change-<request id>``.

The lease is renewed every third of its time while the change runs. A replica that would carry a
change on (when it starts, or when it finds one nobody runs) waits for the lease: the holder finishes
the change, or dies or stops and its lease runs out or is released, and then this one carries on from
what was recorded. The record written just before something is sent is fenced by the lease
(``actions.update_params`` / ``log_event`` with ``fence()``): a replica that stalled past its lease
records and sends nothing more (``actions.LeaseLost``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.store import actions
from bot.store.db import Store
from bot.store.leases import LeaseRow

logger = logging.getLogger(__name__)
_fence: contextvars.ContextVar[actions.Fence | None] = contextvars.ContextVar("change_fence", default=None)


@dataclass(frozen=True)
class Held:
    lease: LeaseRow
    request: actions.ActionRequest  # as last recorded, read once the lease was held


def fence() -> actions.Fence | None:
    """The lease of the change this task holds (``hold``), for the record written before a mutation."""
    return _fence.get()


@contextlib.asynccontextmanager
async def hold(store: Store, request_id: str, holder: str, ttl: float) -> AsyncIterator[Held | None]:
    """The change ``request_id``, held for the block by this task of the process ``holder`` (waiting for
    the lease while another replica, or another task, holds it); None when it ended meanwhile. Within a
    block that holds it already (the flow holds what a kind's steps hold again), the lease is reused."""
    name = f"change-{request_id}"
    outer = _fence.get()
    if outer is not None and outer.lease == name:
        current = await actions.get(store, request_id)
        yield Held(LeaseRow(store, name, outer.holder, outer.ttl), current) if _unfinished(current) else None
        return
    lease = LeaseRow(store, name, f"{holder}/{uuid.uuid4().hex[:6]}", ttl)
    while not await lease.acquire():
        if not _unfinished(await actions.get(store, request_id)):
            yield None
            return
        await asyncio.sleep(lease.ttl / 3)
    renewing = asyncio.create_task(_renew(lease), name=f"lease-{lease.name}")
    token = _fence.set(actions.Fence(lease.name, lease.holder, lease.ttl))
    try:
        current = await actions.get(store, request_id)
        yield Held(lease, current) if _unfinished(current) else None
    finally:
        _fence.reset(token)
        renewing.cancel()
        try:  # never in place of what ended the block (the database not answering, say)
            await asyncio.shield(lease.release())
        except Exception as exc:
            logger.warning("could not release lease %s (it runs out by itself): %s", lease.name, exc)


def _unfinished(req: actions.ActionRequest | None) -> bool:
    return req is not None and req.status not in actions.FINAL


async def _renew(lease: LeaseRow) -> None:
    while True:
        await asyncio.sleep(lease.ttl / 3)
        try:
            if not await lease.acquire():
                logger.warning("lease %s was taken over: another replica carries the change on", lease.name)
                return
        except Exception:
            logger.warning("could not renew lease %s", lease.name, exc_info=True)
