"""Probe history: every endpoint result, for incidents and trends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot.store.db import Store
from bot.store.models import ProbeResult


class _Endpoint(Protocol):
    path: str
    status: int | None
    latency_ms: float | None
    verdict: str
    failure: str | None


class _Report(Protocol):
    name: str
    endpoints: Iterable[_Endpoint]


async def save_reports(store: Store, reports: Iterable[_Report], source: str = "command") -> int:
    rows = [
        ProbeResult(service=report.name, endpoint=ep.path, status=ep.status, latency_ms=ep.latency_ms,
                    verdict=ep.verdict, failure=ep.failure, source=source)
        for report in reports for ep in report.endpoints
    ]
    async with store.session() as session:
        session.add_all(rows)
    return len(rows)
