"""The monitor: probe every service each ``interval_seconds``, read its metrics every few minutes, and
turn what it sees into incidents, with hysteresis so one blip pages nobody.

- ``failures_to_open`` failing probes in a row open an incident (impact start: the first of them).
- While an incident is open: a change of verdict or reason goes on its timeline; ``successes_to_resolve``
  healthy probes in a row mark it mitigated (impact ended at the first of them); healthy for the
  recovery window proposes resolving it; failing again after mitigation reopens the investigation.
- Memory or CPU above ``threshold_percent`` of the limit counts as failing (a degraded signal) until
  the next metrics read says otherwise.

Only the leader runs it (``bot.incidents.leadership``); its counters live in memory and start afresh on takeover.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config.services import ServiceConfig
from bot.incidents.policy import WatchSettings, health_of, is_failing, pressure_of, signal_from_report
from bot.incidents.service import Incidents
from bot.probe.models import ServiceReport
from bot.railway.models import Metrics
from bot.runtime import Runtime
from bot.store import incidents as store
from bot.store.incidents import INVESTIGATING, MITIGATED, Incident
from bot.store.models import utcnow
from bot.store.probes import save_reports

logger = logging.getLogger(__name__)

METRICS_WINDOW = timedelta(minutes=10)


@dataclass
class ServiceState:
    failures: int = 0
    successes: int = 0
    failing_since: datetime | None = None
    healthy_since: datetime | None = None
    pressure: dict | None = None
    last_key: tuple | None = None
    verdict_since: datetime | None = None


class Monitor:
    def __init__(self, rt: Runtime, incidents: Incidents, settings: WatchSettings) -> None:
        self.rt = rt
        self.incidents = incidents
        self.settings = settings
        self.states: dict[str, ServiceState] = {}
        self.ticks = 0

    def state(self, service: str) -> ServiceState | None:
        """What this replica's monitor has seen of ``service`` (None when it has not watched it)."""
        return self.states.get(service)

    async def run(self) -> None:
        """Forever (the leader's duty): every interval (the first one after taking the lead), the
        metrics when due, then one probe round."""
        next_metrics = 0.0
        elapsed = 0.0
        while True:
            await asyncio.sleep(max(0.0, self.settings.interval_seconds - elapsed))
            started = time.monotonic()
            if started >= next_metrics:
                next_metrics = started + self.settings.metrics_interval_seconds
                await self._guard(self.check_metrics())
            await self._guard(self.tick())
            elapsed = time.monotonic() - started

    async def _guard(self, work) -> None:
        try:
            await work
        except Exception:  # the database or Slack is away: try again next round
            logger.exception("monitor round failed")

    async def tick(self) -> None:
        """Probe every service once, concurrently, and act on what each probe says."""
        open_now = {i.service: i for i in await store.open_incidents(self.rt.store)}
        services = self.rt.config.services
        reports = await asyncio.gather(*(self.rt.prober.probe_service(s) for s in services),
                                       return_exceptions=True)
        good = [r for r in reports if isinstance(r, ServiceReport)]
        if good:
            await save_reports(self.rt.store, good, source="monitor")
        for service, report in zip(services, reports, strict=True):
            if isinstance(report, BaseException):
                logger.error("probe of %s failed: %s", service.name, report)
                continue
            try:
                await self.observe(service, report, open_now.get(service.name))
            except Exception:
                logger.exception("monitor could not act on %s", service.name)
        self.ticks += 1

    async def observe(self, service: ServiceConfig, report: ServiceReport, incident: Incident | None) -> None:
        state = self.states.setdefault(service.name, ServiceState())
        now = report.checked_at
        failing = is_failing(report) or state.pressure is not None
        if failing:
            state.failures, state.successes, state.healthy_since = state.failures + 1, 0, None
            state.failing_since = state.failing_since or now
        else:
            state.successes, state.failures, state.failing_since = state.successes + 1, 0, None
            state.healthy_since = state.healthy_since or now
        key = (report.verdict, report.reason, bool(state.pressure))
        changed = key != state.last_key
        if changed:
            state.last_key, state.verdict_since = key, now
        if incident is None:
            if failing and state.failures >= self.settings.failures_to_open:
                signal = signal_from_report(report, started_at=state.failing_since or now, detected_at=utcnow(),
                                            pressure=state.pressure)
                await self.incidents.open(service.name, signal, source="monitor")
            return
        health = health_of(report, since=state.verdict_since)
        await self.incidents.record_health(incident, health, changed=changed, failing=failing)
        if failing:
            if incident.status == MITIGATED:
                await self.incidents.relapsed(incident.id, health)
        elif incident.probe_failed:
            await self._recovering(incident, state, now)
        await self.incidents.heartbeat_if_due(await store.get(self.rt.store, incident.id))

    async def _recovering(self, incident: Incident, state: ServiceState, now: datetime) -> None:
        if state.successes < self.settings.successes_to_resolve or state.healthy_since is None:
            return
        if incident.status == INVESTIGATING:
            await self.incidents.mitigated(incident.id, at=now, impact_ended_at=state.healthy_since)
        healthy_for = (now - state.healthy_since).total_seconds()
        if healthy_for >= self.settings.recovery_seconds and incident.resolve_proposed_at is None:
            await self.incidents.propose_resolution(incident.id, healthy_for)

    async def check_metrics(self) -> None:
        """Memory and CPU of each Railway-linked service against the threshold."""
        if self.rt.railway is None:
            return
        end = utcnow()
        for service in self.rt.config.services:
            if service.railway is None:
                continue
            try:
                ids = await self.rt.railway.resolve(service.railway)
                metrics = await self.rt.railway.metrics(ids, start=end - METRICS_WINDOW, end=end,
                                                        sample_rate_seconds=60)
            except Exception as exc:
                logger.warning("could not read metrics of %s: %s", service.name, exc)
                continue
            state = self.states.setdefault(service.name, ServiceState())
            state.pressure = pressure_of(
                (Metrics.latest(metrics.memory_usage_gb), Metrics.latest(metrics.memory_limit_gb)),
                (Metrics.latest(metrics.cpu_usage), Metrics.latest(metrics.cpu_limit)),
                self.settings.threshold_percent)
