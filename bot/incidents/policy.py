"""The rules of incident handling, without I/O: timings, severities, signals, and durations.

``WatchSettings`` is the ``[monitor]`` table of the services file (``bot.config.services.MonitorTable``).
``Signal`` is why an incident opens, as language-neutral facts.
``durations`` computes TTD / TTM / TTR exactly as incident-summaries.md defines them, with ``None``
("n/a") when a moment is missing or out of order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.common.redact import redact
from bot.config.services import MonitorTable as WatchSettings  # noqa: F401 (the [monitor] table, re-exported)
from bot.probe.models import ServiceReport

SEVERITIES = ("sev1", "sev2", "sev3")
# How often a silent incident still gets a "no change" note: the SRE book's "never go silent".
UPDATE_CADENCE = {"sev1": timedelta(minutes=15), "sev2": timedelta(minutes=30), "sev3": timedelta(minutes=60)}
# A report with one of these reasons is not an outage (the runbook is out of date, not the service).
NOT_AN_OUTAGE = frozenset({"drift", "healthy", "healthy_drift"})


@dataclass(frozen=True)
class Signal:
    """Why an incident opens (or what a further symptom is): facts, no words."""

    reason: str  # a health reason code, or pressure / deploy_failed / deploy_crashed / deploy_unverified / manual
    verdict: str  # the service's health when this was seen: healthy | degraded | down
    severity: str
    started_at: datetime  # impact start: first failing probe, crash time, or when a person saw it
    detected_at: datetime
    args: dict[str, Any] = field(default_factory=dict)
    symptom: str | None = None  # what the playbooks run for (a playbook name or a symptom keyword)
    failing: bool = True  # a probe or a metric sees it failing right now
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def impact(self) -> dict[str, Any]:
        return {"reason": self.reason, "verdict": self.verdict, "args": self.args,
                "n": self.health.get("n", 0)}


def is_failing(report: ServiceReport) -> bool:
    return report.verdict != "healthy" and report.reason not in NOT_AN_OUTAGE


def severity_for(verdict: str) -> str:
    return {"down": "sev1", "degraded": "sev2"}.get(verdict, "sev3")


def health_of(report: ServiceReport, since: datetime | None = None) -> dict[str, Any]:
    """The stored form of a probe report: enough to say it again in any language."""
    return {"verdict": report.verdict, "reason": report.reason, "args": _clean(report.reason_args),
            "n": len(report.endpoints), "next_step": report.next_step,
            "checked_at": report.checked_at.isoformat(), "since": (since or report.checked_at).isoformat()}


def signal_from_report(report: ServiceReport, *, started_at: datetime, detected_at: datetime,
                       pressure: dict | None = None) -> Signal:
    """A probe (and the latest metrics) as a Signal; metric pressure speaks only when the probe is fine."""
    health = health_of(report)
    if is_failing(report) or not pressure:
        return Signal(reason=report.reason, verdict=report.verdict, severity=severity_for(report.verdict),
                      started_at=started_at, detected_at=detected_at, args=_clean(report.reason_args),
                      symptom=report.next_step or report.reason, failing=is_failing(report), health=health)
    return Signal(reason="pressure", verdict="degraded", severity="sev3", started_at=started_at,
                  detected_at=detected_at, args=dict(pressure), symptom=pressure["metric"], health=health)


def pressure_of(memory: tuple[float | None, float | None], cpu: tuple[float | None, float | None],
                threshold_percent: float) -> dict | None:
    """The worst of memory and CPU use above ``threshold_percent`` of its limit, else None."""
    worst = None
    for metric, (used, limit) in (("memory", memory), ("cpu", cpu)):
        if used is None or not limit:
            continue
        percent = round(100.0 * used / limit, 1)
        if percent > threshold_percent and (worst is None or percent > worst["percent"]):
            worst = {"metric": metric, "percent": percent, "threshold": threshold_percent}
    return worst


def clean(text: Any, limit: int) -> str:
    """``text`` redacted and at most ``limit`` characters long.

    Clipped (a little past ``limit``) before redacting too: redaction takes quadratic time on long
    unbroken strings, and a secret cut by that first clip lies past what is shown.
    """
    return redact(str(text)[: limit + 100])[:limit]


def _clean(args: dict[str, Any]) -> dict[str, Any]:
    return {k: clean(v, 500) if isinstance(v, str) else v for k, v in args.items()}


# ---- durations ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    """Seconds, or None when a moment is missing or out of order (shown as "n/a")."""

    ttd: float | None  # detected − impact started
    tta: float | None  # acknowledged − detected
    ttm: float | None  # mitigated − impact started
    ttm_after_detection: float | None  # mitigated − detected
    ttr: float | None  # resolved − impact started
    impact: float | None  # impact ended − impact started
    incident: float | None  # resolved − declared


def _span(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def durations(incident: Any) -> Durations:
    """``incident`` has the canonical moments of incident-summaries.md §(c) as attributes."""
    started, detected = incident.impact_started_at, incident.detected_at
    return Durations(
        ttd=_span(started, detected),
        tta=_span(detected, incident.acknowledged_at),
        ttm=_span(started, incident.mitigated_at),
        ttm_after_detection=_span(detected, incident.mitigated_at),
        ttr=_span(started, incident.resolved_at),
        impact=_span(started, incident.impact_ended_at),
        incident=_span(incident.declared_at, incident.resolved_at),
    )


def next_update_by(severity: str, updated_at: datetime) -> datetime:
    return updated_at + UPDATE_CADENCE.get(severity, UPDATE_CADENCE["sev2"])
