"""The monitor: probe every service each ``interval_seconds``, read its metrics every few minutes, and
turn what it sees into incidents, with hysteresis so one blip pages nobody.

How a round runs, so a thousand services cost little and never crowd out Slack's acks:
- each service is probed at its own moment in the interval (a stable phase from a hash of its name), so
  the requests are spread over the interval instead of all leaving at once;
- while all is well a round checks only the profile's readiness and live database endpoints (at most
  two requests); the whole profile runs every ``full_check_every`` rounds, while a service fails or has
  an open incident, and on demand (``/health``);
- probes run under the monitor's own bound (``max_concurrent_probes``), apart from the command pool;
- a service whose previous probe is still running when its moment comes is skipped and counted (never
  stacked), and so is a round the scheduler itself starts late.

- ``failures_to_open`` failing probes in a row open an incident (impact start: the first of them).
- While an incident is open: a change of verdict or reason goes on its timeline; ``successes_to_resolve``
  healthy probes in a row mark it mitigated (impact ended at the first of them); healthy for the
  recovery window proposes resolving it; failing again after mitigation reopens the investigation.
- Memory or CPU above ``threshold_percent`` of the limit counts as failing (a degraded signal) until
  the next metrics read says otherwise.

Every replica runs it for the services it owns (``bot.incidents.sharing``); its counters live in memory
and start afresh when a service moves to another replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.common import metrics as prom
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
FLUSH_SECONDS = 1.0  # probe results are written in batches, at most this long after the probe


def phase(service: str, interval: float) -> float:
    """Where in each interval ``service`` is probed: stable across rounds and replicas."""
    digest = hashlib.blake2b(service.encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64 * interval


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
    def __init__(self, rt: Runtime, incidents: Incidents, settings: WatchSettings,
                 owns: Callable[[str], bool] = lambda _service: True) -> None:
        self.rt = rt
        self.incidents = incidents
        self.settings = settings
        self.owns = owns
        self.states: dict[str, ServiceState] = {}
        self.ticks = 0  # rounds completed
        self.late_rounds = 0
        self.skipped = 0  # probes skipped because the service's previous one was still running
        self._slots = asyncio.Semaphore(settings.max_concurrent_probes)
        self._in_flight: set[str] = set()
        self._probes: set[asyncio.Task] = set()
        self._reports: list[ServiceReport] = []
        # Read when /metrics is scraped, so a replica's share shows as soon as its view of the others changes.
        prom.MONITOR_OWNED.set_function(lambda: sum(self.owns(s.name) for s in self.rt.config.services))

    def state(self, service: str) -> ServiceState | None:
        """What this replica's monitor has seen of ``service`` (None when it has not watched it)."""
        return self.states.get(service)

    async def run(self) -> None:
        """Forever: a round every interval (the first one an interval after starting), the metrics when due."""
        loop = asyncio.get_running_loop()
        interval = self.settings.interval_seconds
        writer = asyncio.create_task(self._write_reports(), name="monitor-writer")
        try:
            next_metrics, round_start = 0.0, loop.time() + interval
            while True:
                await asyncio.sleep(max(0.0, round_start - loop.time()))
                if loop.time() >= next_metrics:
                    next_metrics = loop.time() + self.settings.metrics_interval_seconds
                    await self._guard(self.check_metrics())
                await self._guard(self.round(round_start))
                round_start += interval
                behind = loop.time() - round_start
                if behind > 0:  # the round ran past its interval: skip ahead, never stack rounds
                    missed = int(behind // interval) + 1
                    self.late_rounds += 1
                    prom.MONITOR_LATE_ROUNDS.inc()
                    logger.warning("monitor round ran past its interval", extra={"skipped_rounds": missed})
                    round_start += missed * interval
        finally:
            writer.cancel()
            for task in self._probes:
                task.cancel()
            await asyncio.gather(writer, *self._probes, return_exceptions=True)
            await self._flush()

    async def _guard(self, work) -> None:
        try:
            await work
        except Exception:  # the database or Slack is away: try again next round
            logger.exception("monitor round failed")

    async def round(self, start: float | None = None) -> None:
        """Probe each owned service once, at its phase of the interval from ``start`` (at once without it).

        Ownership is asked at each service's moment, so services a dead replica leaves are probed in the
        round that is running when this replica learns of it."""
        loop = asyncio.get_running_loop()
        interval = self.settings.interval_seconds
        open_now = {i.service: i for i in await store.open_incidents(self.rt.store)}
        full_round = self.ticks % self.settings.full_check_every == 0
        services = list(self.rt.config.services)
        if start is not None:
            services.sort(key=lambda s: phase(s.name, interval))
        probes = []
        for service in services:
            if start is not None:
                await asyncio.sleep(max(0.0, start + phase(service.name, interval) - loop.time()))
            if not self.owns(service.name):
                continue
            if service.name in self._in_flight:
                self.skipped += 1
                prom.MONITOR_SKIPPED.inc()
                continue
            state = self.states.get(service.name)
            full = full_round or service.name in open_now or (state is not None and state.failures > 0)
            self._in_flight.add(service.name)
            task = asyncio.create_task(self._watch(service, full, open_now.get(service.name)),
                                       name=f"monitor-{service.name}")
            self._probes.add(task)
            task.add_done_callback(self._probes.discard)
            probes.append(task)
        if start is None:
            await asyncio.gather(*probes)
            await self._flush()
        self.ticks += 1
        prom.MONITOR_ROUNDS.inc()

    async def _watch(self, service: ServiceConfig, full: bool, incident: Incident | None) -> None:
        try:
            async with self._slots:
                report = await self.rt.prober.probe_service(service, watched_only=not full)
            prom.MONITOR_PROBES.labels("full" if full else "watch").inc()
            self._reports.append(report)
            await self.observe(service, report, incident)
        except Exception:
            logger.exception("monitor could not probe or act on %s", service.name)
        finally:
            self._in_flight.discard(service.name)

    async def _write_reports(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        """The probe history, in one insert per batch (it is bookkeeping: a failure only loses this batch)."""
        batch, self._reports = self._reports, []
        if batch:
            try:
                await save_reports(self.rt.store, batch, source="monitor")
            except Exception as exc:
                logger.warning("could not save %d monitor probe results: %s", len(batch), exc)

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
            if service.railway is None or not self.owns(service.name):
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
