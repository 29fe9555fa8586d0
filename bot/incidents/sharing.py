"""Replicas share the watch: each one probes the services rendezvous hashing gives it among the live
replicas.

Each replica keeps a heartbeat row in the ``leases`` table (``replica:<id>``, renewed every third of the
lease); the live replicas are the rows whose lease has not run out, by the database's clock. Every
replica ranks each service by ``hash(replica, service)`` over the same live set, so they agree on one
owner per service without talking to each other, and when a replica dies its services move (and only
its services) at most one lease plus one renewal later. While two replicas briefly see different live
sets (one renewal interval around a join or a death) a service may be probed by both for a round; the
incident rules (one open incident per service, guarded transitions) keep that harmless. On SQLite the
process is the only replica and owns every service.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from bot.store.db import Store
from bot.store.models import Lease

logger = logging.getLogger(__name__)

PREFIX = "replica:"
_FORGET_AFTER = timedelta(hours=1)


def owner(service: str, replicas: list[str]) -> str:
    """Rendezvous (highest random weight) hashing: the replica that ranks ``service`` highest."""
    return max(replicas, key=lambda r: hashlib.blake2b(f"{r}\n{service}".encode(), digest_size=8).digest())


class Replicas:
    def __init__(self, store: Store, holder: str, ttl: float) -> None:
        self.store = store
        self.holder = holder
        self.ttl = ttl
        self.single_process = store.is_sqlite
        self._name = PREFIX + hashlib.blake2b(holder.encode(), digest_size=12).hexdigest()
        self.live: list[str] = [holder]

    def owns(self, service: str) -> bool:
        return self.single_process or owner(service, self.live) == self.holder

    async def run(self) -> None:
        """Forever: renew this replica's heartbeat and read who else is alive."""
        if self.single_process:
            return
        while True:
            try:
                await self.beat()
            except Exception as exc:  # the database is away: keep the last view until it answers again
                logger.warning("could not renew the replica heartbeat: %s", exc)
            await asyncio.sleep(self.ttl / 3)

    async def beat(self) -> None:
        """Renew this replica's row (PostgreSQL's clock) and read the live set, in one transaction."""
        now = func.now()
        expires = now + timedelta(seconds=self.ttl)
        upsert = (insert(Lease).values(name=self._name, holder=self.holder, expires_at=expires)
                  .on_conflict_do_update(index_elements=[Lease.name], set_={"expires_at": expires}))
        async with self.store.session() as session:
            await session.execute(upsert)
            await session.execute(delete(Lease).where(Lease.name.like(PREFIX + "%"),
                                                      Lease.expires_at < now - _FORGET_AFTER))
            live = (await session.scalars(select(Lease.holder).where(Lease.name.like(PREFIX + "%"),
                                                                     Lease.expires_at > now))).all()
        changed = sorted({*live, self.holder})
        if changed != self.live:
            logger.info("replicas sharing the watch", extra={"replicas": len(changed)})
        self.live = changed

    async def leave(self) -> None:
        """A clean stop: give this replica's services to the others at once."""
        if self.single_process:
            return
        try:
            async with self.store.session() as session:
                await session.execute(delete(Lease).where(Lease.name == self._name))
        except Exception as exc:
            logger.warning("could not remove the replica heartbeat: %s", exc)
