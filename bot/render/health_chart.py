"""The ``/health <service> --chart`` picture: each endpoint's latency over the last hour, from probe history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.charts.spec import MAX_SERIES, ChartSpec, Panel, Series
from bot.i18n import t


class _Result(Protocol):
    at: datetime
    endpoint: str
    latency_ms: float | None
    verdict: str


def latency_chart(service: str, results: Sequence[_Result], lang: str) -> ChartSpec | None:
    """None when the last hour holds no latency to show (the text report then stands alone, as always)."""
    by_endpoint: dict[str, list[tuple[float, float]]] = {}
    for row in results:
        if row.latency_ms is not None:
            by_endpoint.setdefault(row.endpoint, []).append((row.at.timestamp(), float(row.latency_ms)))
    if not by_endpoint:
        return None
    # The slowest endpoints first: with many endpoints, the ones worth seeing are drawn.
    ranked = sorted(by_endpoint.items(), key=lambda item: -max(v for _, v in item[1]))[:MAX_SERIES]
    series = tuple(Series(path, points) for path, points in ranked)
    slowest_path, slowest = ranked[0][0], max(v for _, v in ranked[0][1])
    probes = sum(len(points) for points in by_endpoint.values())
    return ChartSpec(
        title=t("health.chart.title", lang, service=service), x_label=t("health.chart.time", lang),
        panels=(Panel(t("health.chart.panel", lang), t("health.chart.ms", lang), series),),
        alt_text=t("health.chart.alt", lang, service=service, endpoints=len(by_endpoint), shown=len(ranked),
                   probes=probes, slowest=slowest_path, ms=round(slowest)),
        caption=t("health.chart.caption", lang, service=service, probes=probes, endpoints=len(by_endpoint)),
        filename=f"{service}-latency.png")
