"""``/db <service> migrations``: Prisma's ``_prisma_migrations`` table, read through a read-only
connection, and what is pending against the latest deployment's migrations when its logs say how many
there are (``prisma migrate deploy`` prints "N migrations found in prisma/migrations")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.changes.logscan import clean
from bot.dbops.connect import connect, database_url
from bot.dbops.target import DbUnavailable, db_service
from bot.railway import RailwayError
from bot.runtime import Runtime

_FOUND = re.compile(r"(\d+) migrations? found in")
_QUERY = """
SELECT migration_name, started_at, finished_at, rolled_back_at, applied_steps_count, logs
FROM "_prisma_migrations" ORDER BY started_at, migration_name
"""


@dataclass(frozen=True)
class Migration:
    name: str
    started_at: datetime
    finished_at: datetime | None
    rolled_back_at: datetime | None
    steps: int
    log: str  # the first line of Prisma's log for a failed one, cleaned and redacted

    @property
    def state(self) -> str:
        """Prisma's meaning of the columns: rolled back, finished, failed (a log and no finish), or running."""
        if self.rolled_back_at is not None:
            return "rolled_back"
        if self.finished_at is not None:
            return "applied"
        return "failed" if self.log else "running"


@dataclass(frozen=True)
class MigrationsReport:
    service: str
    where: str
    migrations: list[Migration]
    found_in_deployment: int | None  # how many the latest deployment ships, when its logs say
    deployment_id: str | None

    def count(self, state: str) -> int:
        return sum(1 for m in self.migrations if m.state == state)

    @property
    def applied_names(self) -> set[str]:
        return {m.name for m in self.migrations if m.state == "applied"}

    @property
    def pending(self) -> int | None:
        if self.found_in_deployment is None:
            return None
        return max(0, self.found_in_deployment - len(self.applied_names))


async def _shipped(rt: Runtime, service) -> tuple[int | None, str | None]:
    """How many migrations the serving deployment found, from its logs (None when they do not say)."""
    try:
        ids = await rt.railway.resolve(service.railway)
        deployment = await rt.railway.active_deployment(ids)
        if deployment is None:
            return None, None
        lines = await rt.railway.deployment_logs(deployment.id, filter="migrations found", limit=50)
    except RailwayError:
        return None, None
    counts = [int(m.group(1)) for line in lines if (m := _FOUND.search(line.message))]
    return (counts[-1] if counts else None), deployment.id


async def read_migrations(rt: Runtime, service_name: str) -> MigrationsReport:
    service = db_service(rt.config, service_name)
    url = await database_url(rt.railway, service)
    async with connect(url, read_only=True, purpose="migrations") as conn:
        async with conn.transaction(readonly=True):
            if await conn.fetchval("SELECT to_regclass('\"_prisma_migrations\"')") is None:
                raise DbUnavailable("db.migrations.no_table", where=url.where)
            rows = await conn.fetch(_QUERY)
    migrations = [Migration(r["migration_name"], r["started_at"], r["finished_at"], r["rolled_back_at"],
                            r["applied_steps_count"], clean((r["logs"] or "").strip().splitlines()[0])
                            if (r["logs"] or "").strip() else "") for r in rows]
    found, deployment_id = await _shipped(rt, service)
    return MigrationsReport(service.name, url.where, migrations, found, deployment_id)
