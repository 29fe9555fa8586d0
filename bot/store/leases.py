"""The one statement that takes or renews a row of ``leases``, for the leader lease and a change's lease."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Update, func, or_, update

from bot.store.db import Store
from bot.store.models import Lease, utcnow


def take_or_renew(store: Store, name: str, holder: str, ttl: float) -> Update:
    """UPDATE the lease ``name`` to ``holder`` for ``ttl`` s if it holds it or it has expired (one row
    changed: it holds it now). On PostgreSQL the database's clock decides, so replicas' clocks need not agree."""
    now = utcnow() if store.is_sqlite else func.now()
    return (update(Lease).where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=now + timedelta(seconds=ttl)))
