"""Rows of ``leases``: who holds the leader lease (the watch) or a running change, until when."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import Update, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import Store
from bot.store.models import Lease, utcnow


def _now(store: Store):
    """The clock leases are compared with: on PostgreSQL the database's, so replicas' clocks need not agree."""
    return utcnow() if store.is_sqlite else func.now()


def take_or_renew(store: Store, name: str, holder: str, ttl: float) -> Update:
    """UPDATE the lease ``name`` to ``holder`` for ``ttl`` s if it holds it or it has expired (one row
    changed: it holds it now)."""
    now = _now(store)
    return (update(Lease).where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=now + timedelta(seconds=ttl)))


def new_holder_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseRow:
    """The ``leases`` row called ``name``, seen by ``holder``."""

    def __init__(self, store: Store, name: str, holder: str, ttl: float) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = ttl

    def _now(self):
        return _now(self.store)

    async def acquire(self) -> bool:
        """Take or renew the lease; True when this holder has it now."""
        async with self.store.session() as session:
            if (await session.execute(take_or_renew(self.store, self.name, self.holder, self.ttl))).rowcount == 1:
                return True
        expires = self._now() + timedelta(seconds=self.ttl)
        try:
            async with self.store.session() as session:
                await session.execute(insert(Lease).values(name=self.name, holder=self.holder, expires_at=expires))
        except IntegrityError:
            return False
        return True

    async def release(self) -> None:
        """Give the lease up at once (a clean shutdown), so another replica need not wait for it to expire."""
        stmt = (update(Lease).where(Lease.name == self.name, Lease.holder == self.holder)
                .values(expires_at=self._now() - timedelta(seconds=1)))
        async with self.store.session() as session:
            await session.execute(stmt)

    async def current_holder(self) -> str | None:
        async with self.store.session() as session:
            return (await session.scalars(select(Lease.holder).where(Lease.name == self.name))).first()
