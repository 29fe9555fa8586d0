"""``POST /alerts/<source>/<token>``: alerts from other monitors open or join the service's incident.

None of these tools sign their deliveries the same way (UptimeRobot not at all), so the route is a
secret path token compared in constant time, like Railway's webhooks; without
``CHATOPS_ALERTS_TOKEN`` there is no route. Every delivery, accepted or not, leaves an audit row.

A firing alert opens an incident for its service, or joins the open one; the same alert again (same
fingerprint) only counts, so a flood makes one incident and one timeline entry with its count.
Alerts for one service are taken one batch at a time by a single task (``_drain``): a burst cannot
race itself into two entries, and identical alerts waiting together cost one database write (the
count goes up by their number). Each delivery is answered only once its alert is stored (a database
fault answers 503, so the sender retries). A resolved alert goes on the timeline; when every alert
that joined an incident has resolved, the bot proposes resolving it, and a person decides.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import defaultdict

from aiohttp import web

from bot.alerts.payloads import READERS, RESOLVED, Alert, Malformed, NotAnOutage, read
from bot.alerts.render import SOURCE_NAMES, resolution_message
from bot.config.services import ServiceConfig
from bot.i18n import t
from bot.incidents.policy import Signal, clean
from bot.incidents.service import Incidents
from bot.runtime import Runtime
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
from bot.store.incidents import INVESTIGATING
from bot.store.models import utcnow

logger = logging.getLogger(__name__)

ALERTS_PATH = "/alerts/{source}/{token}"
VERDICT = {"sev1": "down", "sev2": "degraded", "sev3": "degraded"}


class AlertIntake:
    def __init__(self, rt: Runtime, incidents: Incidents) -> None:
        self.rt = rt
        self.incidents = incidents
        self._waiting: defaultdict[str, list[tuple[Alert, asyncio.Future]]] = defaultdict(list)
        self._draining: set[str] = set()

    @property
    def lang(self) -> str:
        return self.incidents.language()

    # ---- the route ----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        source = request.match_info.get("source", "")[:32]
        expected = self.rt.settings.CHATOPS_ALERTS_TOKEN or ""
        token = request.match_info.get("token", "")
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            return self._refuse(404, "not_found", source, detail=f"bad token from {request.remote}")
        if source not in READERS:
            return self._refuse(404, "unknown_source", source, known=", ".join(READERS))
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, "too_large", source, limit=request.client_max_size)
        try:
            alerts = read(source, raw, request.content_type, self.rt.config.alerts.service_label)
        except NotAnOutage:
            self._audit(source, "ignored", "not an outage", raw)
            return web.json_response({"ignored": t("alerts.http.not_an_outage", self.lang)}, status=202)
        except Malformed as exc:
            return self._refuse(400, f"malformed.{exc.code}", source, raw=raw, **exc.variables)
        results = []
        for alert in alerts:
            service = self._service(alert)
            if service is None:
                results.append({"fingerprint": alert.fingerprint, "outcome": "unknown_service"})
                continue
            try:
                outcome, incident_id = await self.submit(service, alert)
            except Exception as exc:  # the database is away: say so, the sender retries
                return self._refuse(503, "unavailable", source, raw=raw, detail=f"{type(exc).__name__}: {exc}")
            results.append({"fingerprint": alert.fingerprint, "service": service.name, "outcome": outcome,
                            "incident": f"INC-{incident_id}" if incident_id else None})
        if not any("service" in r for r in results):
            names = sorted({a.service or a.host or "?" for a in alerts})
            return self._refuse(422, "unknown_service", source, raw=raw, name=clean(", ".join(names), 200),
                                known=", ".join(self.rt.config.service_names))
        self._audit(source, "accepted", "; ".join(f"{r['outcome']} {r.get('incident') or ''}".strip()
                                                  for r in results), raw)
        return web.json_response({"results": results}, status=202)

    def _service(self, alert: Alert) -> ServiceConfig | None:
        if alert.service:
            return self.rt.config.service(alert.service)
        return self.rt.config.service_for_host(alert.host) if alert.host else None

    def _refuse(self, status: int, code: str, source: str, *, raw: bytes = b"", detail: str = "",
                **variables: object) -> web.Response:
        message = t(f"alerts.http.{code}", self.lang, **variables)
        self._audit(source, "rejected", detail or message, raw)
        return web.json_response({"error": message}, status=status)

    def _audit(self, source: str, outcome: str, detail: str, raw: bytes) -> None:
        """One row per delivery; the audit writer redacts and clips what is stored."""
        self.rt.audit.received(kind="alert", name=f"alerts.{clean(source, 32)}", outcome=outcome, detail=detail,
                               arguments=raw[:300].decode("utf-8", "replace"))

    # ---- acting on one alert --------------------------------------------------------------------------------

    async def submit(self, service: ServiceConfig, alert: Alert) -> tuple[str, int | None]:
        """Queue the alert for its service's drain task; the answer once it is stored."""
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting[service.name].append((alert, done))
        if service.name not in self._draining:
            self._draining.add(service.name)
            self.rt.spawn(f"alerts-{service.name}", self._drain(service))
        return await done

    async def _drain(self, service: ServiceConfig) -> None:
        """Take what waits, in order; a run of identical alerts is taken once and counted n times."""
        waiting = self._waiting[service.name]
        try:
            while waiting:
                batch = waiting[:]
                waiting.clear()
                for run in _runs(batch):
                    try:
                        outcome, incident_id = await self.take(service, run[0][0], repeats=len(run) - 1)
                    except Exception as exc:
                        logger.exception("could not take an alert for %s", service.name)
                        for _, done in run:
                            if not done.done():
                                done.set_exception(exc)
                        continue
                    again = "already_resolved" if run[0][0].status == RESOLVED else "repeat"
                    for i, (_, done) in enumerate(run):
                        if not done.done():
                            done.set_result((outcome if i == 0 else again, incident_id))
        finally:
            self._draining.discard(service.name)
            for _, done in waiting:  # cancelled mid-way (shutdown): nobody waits forever
                if not done.done():
                    done.cancel()
            waiting.clear()

    async def take(self, service: ServiceConfig, alert: Alert, repeats: int = 0) -> tuple[str, int | None]:
        """(outcome, incident id): opened, joined, repeat, refired, resolved, already_resolved or unmatched.
        ``repeats``: more deliveries of the same alert, counted with it."""
        if alert.status == RESOLVED:
            return await self._resolved(service, alert)
        inc = await incident_store.open_for_service(self.rt.store, service.name)
        if inc is None:
            opened = await self.incidents.open(service.name, self._signal(alert), source="alert",
                                               title=clean(alert.title, 200))
            inc = opened.incident
            outcome = "opened" if opened.created else "joined"
        else:
            counted = await alert_store.count_repeat(self.rt.store, inc.id, alert.fingerprint, 1 + repeats)
            if counted is not None:
                if counted.refired:
                    await self.incidents.refresh(inc.id)
                return ("refired" if counted.refired else "repeat"), inc.id
            outcome = "joined"
        data = {"via": SOURCE_NAMES[alert.source], "title": clean(alert.title, 200),
                "detail": clean(alert.details, 300)}
        if not await alert_store.join(self.rt.store, inc.id, fingerprint=alert.fingerprint, source=alert.source,
                                      event_data=data):  # another replica was first
            await alert_store.count_repeat(self.rt.store, inc.id, alert.fingerprint, 1 + repeats)
            return "repeat", inc.id
        if repeats:
            await alert_store.count_repeat(self.rt.store, inc.id, alert.fingerprint, repeats)
        await self.incidents.refresh(inc.id)
        return outcome, inc.id

    def _signal(self, alert: Alert) -> Signal:
        now = utcnow()
        return Signal(reason="alert", verdict=VERDICT[alert.severity], severity=alert.severity,
                      started_at=min(alert.started_at or now, now), detected_at=now,
                      args={"via": SOURCE_NAMES[alert.source], "title": clean(alert.title, 200)},
                      failing=False)  # the bot's own probes have not seen it (yet)

    async def _resolved(self, service: ServiceConfig, alert: Alert) -> tuple[str, int | None]:
        inc = await incident_store.open_for_service(self.rt.store, service.name)
        record = await alert_store.firing(self.rt.store, inc.id, alert.fingerprint) if inc else None
        if inc is None or record is None:
            return "unmatched", inc.id if inc else None
        if not await alert_store.resolve(self.rt.store, record.id):
            return "already_resolved", inc.id
        await incident_store.add_event(self.rt.store, inc.id, "alert_resolved",
                                       data={"via": SOURCE_NAMES[alert.source], "title": clean(alert.title, 200)})
        # All alerts resolved, and the bot's own probes do not see it failing either: ask a person.
        seen_failing = inc.probe_failed and inc.status == INVESTIGATING
        if not seen_failing and await alert_store.still_firing(self.rt.store, inc.id) == 0:
            await self._propose_resolution(inc.id)
        await self.incidents.refresh(inc.id)
        return "resolved", inc.id

    async def _propose_resolution(self, incident_id: int) -> None:
        """Every alert on the incident has resolved: ask a person to resolve it (once)."""
        n = len(await alert_store.for_incident(self.rt.store, incident_id))
        change = await incident_store.propose_resolution(self.rt.store, incident_id, data={"alerts": n})
        inc = change.incident
        if change.won and inc.channel_id:
            text, blocks = resolution_message(inc, n)
            await self.incidents.post_for(inc, "alert.resolution", inc.channel_id, text, blocks,
                                          thread_ts=inc.thread_ts)


def _runs(batch: list[tuple[Alert, asyncio.Future]]) -> list[list[tuple[Alert, asyncio.Future]]]:
    """Consecutive deliveries of the same alert in the same state, grouped (order kept)."""
    runs: list[list[tuple[Alert, asyncio.Future]]] = []
    for item in batch:
        alert = item[0]
        if runs and (runs[-1][0][0].fingerprint, runs[-1][0][0].status) == (alert.fingerprint, alert.status):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
