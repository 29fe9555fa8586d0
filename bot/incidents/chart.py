"""The incident's health timeline, posted with its final summary: each endpoint's latency and how many
endpoints failed, from a little before the impact started until now, with the deployments, the rollback
and the resolution marked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.charts.spec import MAX_SERIES, ChartSpec, Marker, Panel, Series
from bot.i18n import t
from bot.store.incidents import Incident
from bot.store.models import ProbeResult

BEFORE_IMPACT = timedelta(minutes=10)
_MARKED = {"deployment", "rollback_finished", "resolved"}


def window_start(inc: Incident) -> datetime:
    return inc.impact_started_at - BEFORE_IMPACT


def health_timeline(inc: Incident, results: Sequence[ProbeResult], events: Sequence[Any],
                    lang: str) -> ChartSpec | None:
    """None when no probe of the service falls in the window (the final summary stands alone, as always)."""
    if not results:
        return None
    latency: dict[str, list[tuple[float, float]]] = {}
    failing: dict[float, int] = {}
    for row in results:
        at = row.at.timestamp()
        if row.latency_ms is not None:
            latency.setdefault(row.endpoint, []).append((at, float(row.latency_ms)))
        failing.setdefault(round(at), 0)
        if row.verdict not in ("ok", "skipped"):
            failing[round(at)] += 1
    ranked = sorted(latency.items(), key=lambda item: -max(v for _, v in item[1]))[:MAX_SERIES - 2]
    panels = [Panel(t("incident.chart.latency", lang), t("incident.chart.ms", lang),
                    tuple(Series(path, points) for path, points in ranked))] if ranked else []
    panels.append(Panel(t("incident.chart.failing", lang), t("incident.chart.endpoints", lang),
                        (Series(t("incident.chart.failing_series", lang), sorted(failing.items())),)))
    markers = [Marker(inc.impact_started_at.timestamp(), t("incident.chart.impact", lang))]
    for event in events:
        if event.kind not in _MARKED:
            continue
        label = t(f"incident.chart.marker.{event.kind}", lang, commit=(event.data or {}).get("commit") or "")
        markers.append(Marker(event.at.timestamp(), label))
    worst = max(failing.values())
    return ChartSpec(
        title=t("incident.chart.title", lang, id=inc.id, service=inc.service),
        x_label=t("incident.chart.time", lang), panels=tuple(panels), markers=tuple(markers),
        alt_text=t("incident.chart.alt", lang, id=inc.id, service=inc.service, probes=len(results), worst=worst,
                   endpoints=len(latency), markers=len(markers)),
        caption=t("incident.chart.caption", lang, id=inc.id, service=inc.service),
        filename=f"incident-{inc.id}-health.png")
