"""One replica runs the monitor and the deploy watch: a lease row in the shared database decides which.

The holder renews ``leases.<name>`` every third of the lease; any replica takes the row once it has
expired (one guarded UPDATE: ``… WHERE holder = me OR expires_at < now``), so a dead holder is replaced
at most one lease (plus one renew interval) later. On PostgreSQL the database's clock decides expiry,
so replicas' clocks may disagree. A holder that cannot renew steps down before its lease runs out,
so two leaders never overlap for long; and the incident rules (one open incident per service, guarded
transitions) make even that overlap harmless. On SQLite the single process always leads.

A lease row rather than ``pg_try_advisory_lock``: an advisory lock lives as long as its connection,
and a replica that hangs or loses its network keeps that connection (and the lock) until TCP
keepalive notices, which can take far longer than a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine

from bot.store.db import Store
from bot.store.leases import LeaseRow, new_holder_id

logger = logging.getLogger(__name__)

Duty = Callable[[], Coroutine]


class Leadership:
    """Keeps trying for the lease; runs ``duties`` while it holds it and cancels them when it loses it."""

    def __init__(self, store: Store, duties: list[tuple[str, Duty]], *, name: str = "watchers",
                 ttl: float = 30.0, holder: str | None = None) -> None:
        self.lease = LeaseRow(store, name, holder or new_holder_id(), ttl)
        self.single_process = store.is_sqlite
        self.duties = duties
        self.renew_every = ttl / 3
        self.is_leader = False
        self._released = False
        self._valid_until = 0.0
        self._tasks: list[asyncio.Task] = []

    @property
    def holder(self) -> str:
        return self.lease.holder

    async def run(self) -> None:
        """Forever. Cancelling it stops the duties without releasing the lease (as a crash would)."""
        try:
            while not self._released:
                if await self._hold():
                    self._start()
                elif self.is_leader:
                    await self._stop("lease lost")
                await asyncio.sleep(self.renew_every)
        finally:
            for task in self._tasks:
                task.cancel()

    async def release(self) -> None:
        """Step down for good and free the lease for another replica (on a clean shutdown)."""
        self._released = True
        if self.is_leader:
            await self._stop("shutting down")
        if not self.single_process:
            try:
                await self.lease.release()
            except Exception as exc:
                logger.warning("could not release the leader lease: %s", exc)

    async def _hold(self) -> bool:
        if self.single_process:
            return True
        asked = time.monotonic()
        try:
            held = await self.lease.acquire()
        except Exception as exc:  # the database is away: lead on only while the lease surely lasts
            logger.warning("could not renew the leader lease: %s", exc)
            return self.is_leader and time.monotonic() < self._valid_until
        if held:
            self._valid_until = asked + self.lease.ttl - min(1.0, self.lease.ttl / 10)
        return held

    def _start(self) -> None:
        if self.is_leader or self._released:  # a renewal that was in flight when release() ran: stay down
            return
        self.is_leader = True
        logger.info("leader: running the monitor and the deploy watch", extra={"holder": self.holder})
        self._tasks = [asyncio.create_task(duty(), name=name) for name, duty in self.duties]
        for task in self._tasks:
            task.add_done_callback(_report_crash)

    async def _stop(self, why: str) -> None:
        self.is_leader = False
        logger.info("no longer leader: %s", why, extra={"holder": self.holder})
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def _report_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception():
        logger.error("leader duty %s stopped", task.get_name(), exc_info=task.exception())
