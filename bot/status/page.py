"""What the public status page shows, read from the store: nothing internal ever enters it.

- Components: the services listed in ``[status_page] services``, under their public names, each in
  the state of its latest probe (any source: monitor, /health, a post-deploy check). A probe whose
  reason is not an outage (the runbook's drift) counts as operational; no probe for a while is
  "unknown", not "operational".
- Incidents: only those with at least one update a second person approved, and only those words
  (``bot.store.public_updates``). No titles, findings, deployment ids or user ids: the incident is
  named by its component and its state.
- History: the incidents of the last ``HISTORY_DAYS`` days, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.config.services import ServicesFile
from bot.incidents.policy import NOT_AN_OUTAGE
from bot.store.db import Store
from bot.store.incidents import Incident
from bot.store.models import ProbeResult, utcnow
from bot.store.probes import SERVICE_ROW
from bot.store.public_updates import published_since

HISTORY_DAYS = 90
STATES = ("operational", "degraded", "outage", "unknown")
_WORST = {"operational": 0, "unknown": 1, "degraded": 2, "outage": 3}


@dataclass(frozen=True)
class Component:
    name: str
    state: str  # operational | degraded | outage | unknown


@dataclass(frozen=True)
class Update:
    id: int
    at: datetime
    phase: str  # investigating | monitoring | resolved
    text: str


@dataclass(frozen=True)
class PublicIncident:
    id: int
    component: str
    state: str  # open | resolved
    started_at: datetime
    resolved_at: datetime | None
    updates: list[Update]  # newest first


@dataclass(frozen=True)
class StatusPage:
    title: str
    lang: str
    components: list[Component]
    open_incidents: list[PublicIncident]
    history: list[PublicIncident]
    checked_at: datetime | None  # the newest probe shown
    last_modified: datetime  # the newest thing on the page (a probe, an update, a resolution)
    history_days: int = HISTORY_DAYS
    overall: str = field(init=False)

    def __post_init__(self) -> None:
        worst = max((c.state for c in self.components), key=_WORST.__getitem__, default="unknown")
        if self.open_incidents and _WORST[worst] < _WORST["degraded"]:
            worst = "degraded"  # a published incident is open: the page does not say "all operational"
        object.__setattr__(self, "overall", worst)


def state_of(verdict: str | None, reason: str | None) -> str:
    if verdict is None:
        return "unknown"
    if verdict == "healthy" or (reason or "") in NOT_AN_OUTAGE:
        return "operational"
    return "outage" if verdict == "down" else "degraded"


async def build(store: Store, config: ServicesFile, *, now: datetime | None = None) -> StatusPage:
    now = now or utcnow()
    settings = config.status_page
    names = settings.services
    stale = timedelta(seconds=max(300.0, 3 * config.monitor.interval_seconds))
    latest = await _latest_probes(store, list(names))
    components = []
    for service, public in names.items():
        row = latest.get(service)
        fresh = row is not None and now - row.at <= stale
        components.append(Component(public, state_of(row.verdict, row.failure) if fresh else "unknown"))
    since = now - timedelta(days=HISTORY_DAYS)
    updates = await published_since(store, since, list(names))
    by_incident: dict[int, list[Update]] = {}
    for u in updates:
        by_incident.setdefault(u.incident_id, []).append(Update(u.id, u.published_at, u.phase, u.text))
    incidents = await _incidents(store, list(by_incident))
    shown = [PublicIncident(inc.id, names[inc.service], "open" if inc.is_open else "resolved", inc.declared_at,
                            inc.resolved_at, sorted(by_incident[inc.id], key=lambda u: (u.at, u.id), reverse=True))
             for inc in incidents if inc.service in names]
    moments = [r.at for r in latest.values()] + [u.published_at for u in updates] + \
        [i.resolved_at for i in shown if i.resolved_at]
    checked = max((r.at for r in latest.values()), default=None)
    return StatusPage(
        title=settings.title, lang=settings.language or config.i18n.language, components=components,
        open_incidents=sorted((i for i in shown if i.state == "open"), key=lambda i: i.started_at, reverse=True),
        history=sorted((i for i in shown if i.state == "resolved"), key=lambda i: i.started_at, reverse=True),
        checked_at=checked, last_modified=max(moments, default=since))


async def _latest_probes(store: Store, services: list[str]) -> dict[str, ProbeResult]:
    """Each service's newest whole-service probe row."""
    newest = (select(ProbeResult.service, func.max(ProbeResult.id).label("id"))
              .where(ProbeResult.service.in_(services), ProbeResult.endpoint == SERVICE_ROW)
              .group_by(ProbeResult.service).subquery())
    query = select(ProbeResult).join(newest, ProbeResult.id == newest.c.id)
    async with store.session() as session:
        return {r.service: r for r in (await session.scalars(query)).all()}


async def _incidents(store: Store, ids: list[int]) -> list[Incident]:
    if not ids:
        return []
    async with store.session() as session:
        return list((await session.scalars(select(Incident).where(Incident.id.in_(ids)))).all())
