"""The Home tab: published for a person when they open it, after their clicks there, and again while
something in it changes (probes, incidents, change requests), for the people who looked lately.

Refreshes are debounced by a periodic check of what the view shows (``REFRESH_SECONDS``) and capped per
check (``MAX_REFRESHES``), which keeps views.publish (Tier 4: 100+ calls a minute) within its limit.
Approve and Reject here run ``RollbackFlow.decide``: the same rules and the same exactly-once path
as the buttons in a channel; what came of a click is shown at the top of the person's Home tab.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError

from bot.changes.slack_flow import RollbackFlow
from bot.common import metrics
from bot.common.redact import redact
from bot.home.render import DeploymentLine, HomeData, IncidentLine, ServiceState, home_view
from bot.i18n import t
from bot.runtime import Runtime
from bot.store import actions, probes
from bot.store import incidents as incident_store

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0
MAX_REFRESHES = 15  # per check: at most 90 views.publish a minute
VIEWER_SECONDS = 3600.0  # who opened Home in the last hour gets refreshes
MAX_VIEWERS = 500
DEPLOYMENTS_SECONDS = 60.0  # Railway is read at most once a minute for everyone's Home
RAILWAY_SECONDS = 5.0


class HomeTab:
    def __init__(self, rt: Runtime, changes: RollbackFlow) -> None:
        self.rt = rt
        self.changes = changes
        self._viewers: OrderedDict[str, float] = OrderedDict()  # user -> when they last opened Home
        self._notices: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._seen: tuple | None = None
        self._deployments: tuple[float, list[DeploymentLine], str | None] | None = None

    def opened(self, user_id: str) -> None:
        """Remember who looks (no I/O: called before the ack)."""
        self._viewers[user_id] = time.monotonic()
        self._viewers.move_to_end(user_id)
        while len(self._viewers) > MAX_VIEWERS:
            self._viewers.popitem(last=False)

    def notify(self, user_id: str, text: str) -> None:
        """Show ``text`` at the top of this person's Home tab (what became of their click)."""
        self._notices[user_id] = text

    async def publish(self, user_id: str) -> bool:
        """One views.publish of this person's Home tab, in their language; False when Slack refused it."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:  # one publish per person at a time: the newest state wins, in order
            lang = await self.rt.user_languages.language(user_id, self.rt.config.i18n.language)
            data = await self._data(user_id, lang)
            view = home_view(data, lang, datetime.now(UTC))
            try:
                await self.rt.slack.views_publish(user_id=user_id, view=view)
            except SlackApiError as exc:
                error = exc.response.get("error") or "error"
                metrics.HOME_PUBLISHES.labels(error).inc()
                logger.error("views.publish failed", extra={"user": user_id, "error": error,
                                                              "detail": redact(str(exc.response.data))[:300]})
                return False
            except Exception as exc:
                metrics.HOME_PUBLISHES.labels("unreachable").inc()
                logger.error("views.publish failed: %s", redact(str(exc))[:300], extra={"user": user_id})
                return False
            metrics.HOME_PUBLISHES.labels("ok").inc()
            return True

    async def decide(self, request_id: str, user_id: str, *, reject: bool) -> str:
        """Approve or Reject from Home: ``RollbackFlow.decide``, then the Home tab shows the outcome."""
        lang = await self.rt.user_languages.language(user_id, self.rt.config.i18n.language)
        told: list[str] = []

        async def tell(text: str) -> None:
            told.append(text)

        outcome = await self.changes.decide(request_id, user_id, lang, tell, reject=reject)
        req = await actions.get(self.rt.store, request_id)
        notice = " ".join(told) or t(f"home.notice.{outcome}", lang, id=request_id,
                                     service=req.service if req else "", channel=req.channel_id if req else None)
        self.notify(user_id, notice)
        await self.publish(user_id)
        return outcome

    async def refresh_when_changed(self) -> None:
        """One check: when what Home shows changed, publish again for the people who looked lately."""
        seen = await _fingerprint(self.rt)
        if seen == self._seen:
            return
        first, self._seen = self._seen is None, seen
        if first:
            return  # nothing was published from an older state by this process yet
        horizon = time.monotonic() - VIEWER_SECONDS
        recent = [user for user, at in reversed(self._viewers.items()) if at >= horizon][:MAX_REFRESHES]
        for user in recent:
            await self.publish(user)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh_when_changed()
            except Exception:
                logger.exception("Home tab refresh failed")

    async def _data(self, user_id: str, lang: str) -> HomeData:
        rt = self.rt
        names = rt.config.service_names
        latest = await probes.latest_verdicts(rt.store, names)
        services = []
        for name in names:
            row = latest.get(name)
            services.append(ServiceState(name, None, None, None) if row is None else ServiceState(
                name, row.verdict, row.failure if row.verdict != "healthy" else None, row.at))
        open_incidents = await incident_store.open_incidents(rt.store)
        lines = [IncidentLine(i.id, i.service, i.title, i.severity, i.status, i.commander, i.channel_id)
                 for i in open_incidents]
        rules = rt.config.approvals
        waiting = [r for r in await actions.pending(rt.store)
                   if r.requested_by != user_id or rules.allow_self_approval]
        to_approve = waiting if waiting and await self.changes.directory.may_approve(rules, user_id) else []
        own = await actions.requested_by(rt.store, user_id, limit=5)
        deployments, problem = await self._recent_deployments()
        deployments_error = None
        if self.rt.railway is None:
            deployments_error = t("home.deployments.no_railway", lang)
        elif problem:
            deployments_error = t("home.deployments.unreadable", lang, error=problem)
        return HomeData(services, lines, to_approve, own, deployments, deployments_error,
                        self._notices.pop(user_id, None))

    async def _recent_deployments(self) -> tuple[list[DeploymentLine], str | None]:
        """Each Railway-linked service's newest deployment (read at most once a minute), and what went wrong."""
        if self.rt.railway is None:
            return [], None
        cached = self._deployments
        if cached and cached[0] > time.monotonic():
            return cached[1], cached[2]
        linked = [s for s in self.rt.config.services if s.railway is not None]

        async def last(service) -> DeploymentLine | None:
            ids = await self.rt.railway.resolve(service.railway)
            found = await self.rt.railway.deployments(ids, limit=1)
            if not found:
                return None
            d = found[0]
            return DeploymentLine(service.name, d.id, d.status, d.commit_hash or "",
                                  (d.commit_message or "").splitlines()[0] if d.commit_message else "", d.created_at)

        error = None
        try:
            async with asyncio.timeout(RAILWAY_SECONDS):
                lines = [line for line in await asyncio.gather(*(last(s) for s in linked)) if line]
        except Exception as exc:
            lines, error = [], redact(f"{type(exc).__name__}: {exc}")[:200]
        self._deployments = (time.monotonic() + DEPLOYMENTS_SECONDS, lines, error)
        return lines, error


async def _fingerprint(rt: Runtime) -> tuple:
    """What changes the Home tab: newest probe, incidents' and change requests' last updates."""
    return (await probes.newest_id(rt.store), await incident_store.last_change(rt.store),
            await actions.last_change(rt.store))
