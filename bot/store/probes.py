"""Probe history: every endpoint result, plus one row for the service as a whole (``endpoint = ""``:
its verdict, and its reason code in ``failure``), which the status page reads.

It is bookkeeping: no answer waits for it or fails because of it. Callers run ``keep_reports`` as a
background task after they have what they need; it retries, then logs and counts what it could not save.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select

from bot.common import metrics
from bot.common.redact import redact
from bot.store.db import Store
from bot.store.models import ProbeResult

logger = logging.getLogger(__name__)


class _Endpoint(Protocol):
    path: str
    status: int | None
    latency_ms: float | None
    verdict: str
    failure: str | None


class _Report(Protocol):
    name: str
    verdict: str
    reason: str
    endpoints: Iterable[_Endpoint]


SERVICE_ROW = ""  # the endpoint of the row that holds the whole service's verdict


async def save_reports(store: Store, reports: Iterable[_Report], source: str = "command") -> int:
    reports = list(reports)
    rows = [
        ProbeResult(service=report.name, endpoint=ep.path, status=ep.status, latency_ms=ep.latency_ms,
                    verdict=ep.verdict, failure=ep.failure, source=source)
        for report in reports for ep in report.endpoints
    ]
    rows += [ProbeResult(service=report.name, endpoint=SERVICE_ROW, status=None, latency_ms=None,
                         verdict=report.verdict, failure=(report.reason or "")[:32] or None, source=source)
             for report in reports]
    async with store.session() as session:
        session.add_all(rows)
    return len(rows)


async def latest_verdicts(store: Store, services: Iterable[str]) -> dict[str, ProbeResult]:
    """Each service's newest whole-service row (its verdict, reason and when), for those probed at all."""
    newest = (select(func.max(ProbeResult.id)).where(ProbeResult.endpoint == SERVICE_ROW,
                                                     ProbeResult.service.in_(list(services)))
              .group_by(ProbeResult.service))
    async with store.session() as session:
        rows = (await session.scalars(select(ProbeResult).where(ProbeResult.id.in_(newest)))).all()
    return {row.service: row for row in rows}


async def newest_id(store: Store) -> int | None:
    """The id of the newest probe result (it grows with every probe: a cheap "anything new?")."""
    async with store.session() as session:
        return await session.scalar(select(func.max(ProbeResult.id)))


async def endpoint_history(store: Store, service: str, since: datetime, limit: int = 5000) -> list[ProbeResult]:
    """The service's endpoint results since ``since``, oldest first (the newest ``limit``)."""
    query = (select(ProbeResult).where(ProbeResult.service == service, ProbeResult.endpoint != SERVICE_ROW,
                                       ProbeResult.at >= since)
             .order_by(ProbeResult.at.desc()).limit(limit))
    async with store.session() as session:
        rows = list((await session.scalars(query)).all())
    return rows[::-1]
async def keep_reports(store: Store, reports: Iterable[_Report], source: str, *, attempts: int = 3,
                       retry_seconds: float = 2.0) -> bool:
    """``save_reports`` retried ``attempts`` times; then logged and counted, never raised."""
    reports = list(reports)
    for attempt in range(1, attempts + 1):
        try:
            await save_reports(store, reports, source)
            return True
        except Exception as exc:
            if attempt == attempts:
                metrics.BOOKKEEPING_FAILURES.labels("probe_history").inc()
                logger.warning("probe history not saved after %d attempts (%s results lost): %s", attempts,
                               sum(len(list(r.endpoints)) for r in reports), redact(f"{type(exc).__name__}: {exc}"))
                return False
            await asyncio.sleep(retry_seconds)
    return False
