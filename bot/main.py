"""The composition root: every long-lived object of the bot is built here, with its real type, and
handed what it needs. Nothing else in ``bot/`` knows the handlers or the playbooks.

Reactions that cross domains are declared here and nowhere else:

- an incident asks for a rollback (its Request rollback button) through ``ChangeFlow.request``;
- a change that is requested, decided or finishes (rollback, redeploy, restart) is told to the incidents
  (``on_change_requested`` / ``on_change_decided`` / ``on_change_finished``), so it joins the incident
  open for its service however it was asked for;
- a person's ``/diagnose`` or ``/health`` in an incident's channel is told to ``Incidents.on_diagnosed`` /
  ``on_health_checked``, so its findings and verdicts join the incident's evidence and timeline;
- an incident gathers evidence through ``PlaybookRunner.for_symptom``.

``chatops serve``, the sandbox (demo, tests, benchmarks) and the CLI verbs build through this module.
The light builders (``outbound_http``, ``railway_client``, ``load_config``) import little, so a CLI
verb that only probes or reads Railway starts at once; ``build`` brings in the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from bot.config.services import ServicesFile, load_services
from bot.config.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp

    from bot.alerts.intake import AlertIntake
    from bot.changes.slack_flow import RollbackFlow
    from bot.charts.renderer import ChartRenderer
    from bot.home.service import HomeTab
    from bot.incidents.deploy_watch import DeployWatch
    from bot.incidents.leadership import Leadership
    from bot.incidents.monitor import Monitor
    from bot.incidents.people import IncidentPeople
    from bot.incidents.service import Incidents
    from bot.incidents.sharing import Replicas
    from bot.railway import RailwayClient
    from bot.runtime import Runtime
    from bot.slack.files import ChartPoster
    from bot.status.publish import PublicUpdates
    from bot.status.web import StatusSite
    from handlers.db import DbHandlers
    from handlers.diagnose import DiagnoseHandlers
    from handlers.health import HealthHandlers
    from handlers.home import HomeHandlers
    from handlers.incident import IncidentHandlers
    from handlers.logs import LogsHandlers
    from handlers.rollback import RollbackHandlers
    from handlers.status_publish import PublicUpdateHandlers

logger = logging.getLogger(__name__)

PERIODIC_SECONDS = 15.0
Route = tuple[str, str, "Callable[[web.Request], Awaitable[web.StreamResponse]]"]


def load_config(settings: Settings) -> ServicesFile:
    """The services file (required only when ``CHATOPS_CONFIG`` was set explicitly), profiles checked."""
    from bot.probe.profiles import check_profiles

    config = load_services(settings.CHATOPS_CONFIG, required="CHATOPS_CONFIG" in settings.fields_set)
    check_profiles(config)
    return config


def outbound_http() -> httpx.AsyncClient:
    """The process's one outbound HTTP pool (probes, Railway, playbooks): httpx on aiohttp's pool."""
    from bot.probe.http import probe_client

    return probe_client()


def railway_client(settings: Settings, http: httpx.AsyncClient, timeout: float | None = None) -> RailwayClient | None:
    """Railway's API client, or None without a token (what needs Railway then says so)."""
    if not (settings.RAILWAY_API_TOKEN or settings.RAILWAY_TOKEN):
        return None
    from bot.railway import RailwayClient

    return (RailwayClient.from_settings(settings, http) if timeout is None
            else RailwayClient.from_settings(settings, http, timeout=timeout))


@dataclass
class ChatOps:
    """One bot process: the shared runtime, the domain services and the handlers."""

    rt: Runtime
    changes: RollbackFlow
    incidents: Incidents
    people: IncidentPeople
    monitor: Monitor
    deploy_watch: DeployWatch
    replicas: Replicas
    leadership: Leadership
    alerts: AlertIntake
    public_updates: PublicUpdates
    status_site: StatusSite
    health: HealthHandlers
    diagnose: DiagnoseHandlers
    rollback: RollbackHandlers
    incident: IncidentHandlers
    logs: LogsHandlers
    db: DbHandlers
    public_update_buttons: PublicUpdateHandlers
    charts: ChartPoster
    home: HomeTab
    home_tab: HomeHandlers
    _released: bool = field(default=False, repr=False)

    def register(self, app: AsyncApp) -> None:
        """Every slash command and button the bot answers, in one place."""
        from bot.slack.action_ids import ActionId, ViewId

        app.command("/health")(self.health.command)
        app.action(ActionId.HEALTH_RECHECK)(self.health.recheck)
        app.command("/diagnose")(self.diagnose.command)
        app.action(ActionId.DIAGNOSE_RUN)(self.diagnose.button)
        app.command("/rollback")(self.rollback.command)
        app.action(ActionId.ROLLBACK_APPROVE)(self.rollback.approve)
        app.action(ActionId.ROLLBACK_REJECT)(self.rollback.reject)
        app.action(ActionId.PLAYBOOK_ACTION)(self.rollback.playbook_action)
        app.command("/incident")(self.incident.command)
        app.action(ActionId.INCIDENT_RESOLVE)(self.incident.resolve_button)
        app.action(ActionId.INCIDENT_ROLLBACK)(self.incident.rollback_button)
        app.action(ActionId.INCIDENT_ACK)(self.incident.ack_button)
        app.command("/logs")(self.logs.command)
        app.action(ActionId.LOGS_MORE)(self.logs.more)
        app.command("/db")(self.db.command)
        app.action(ActionId.DB_RESTORE_APPROVE)(self.db.restore_button)
        app.view(ViewId.DB_RESTORE_CONFIRM)(self.db.restore_submit)
        app.action(ActionId.PUBLIC_UPDATE_APPROVE)(self.public_update_buttons.approve)
        app.action(ActionId.PUBLIC_UPDATE_REJECT)(self.public_update_buttons.reject)
        app.event("app_home_opened")(self.home_tab.opened)
        app.action(ActionId.HOME_APPROVE)(self.home_tab.approve)
        app.action(ActionId.HOME_REJECT)(self.home_tab.reject)

    def web_routes(self) -> list[Route]:
        """HTTP routes beside ``/slack/events``, each only when configured: Railway's deployment webhook and
        alerts from other monitors (each behind its secret path token), and the public status page."""
        from bot.alerts.intake import ALERTS_PATH
        from bot.incidents.deploy_watch import WEBHOOK_PATH
        from bot.status.web import FEED_PATH, JSON_PATH, PAGE_PATH

        routes: list[Route] = []
        if self.rt.config.status_page.enabled:
            routes += [("GET", PAGE_PATH, self.status_site.page), ("GET", JSON_PATH, self.status_site.json),
                       ("GET", FEED_PATH, self.status_site.feed)]
        if self.rt.settings.CHATOPS_WEBHOOK_TOKEN:
            routes.append(("POST", WEBHOOK_PATH, self.deploy_watch.webhook))
        if self.rt.settings.CHATOPS_ALERTS_TOKEN:
            routes.append(("POST", ALERTS_PATH, self.alerts.handle))
        return routes

    async def start_duties(self) -> None:
        """Once serving: resume changes a restart interrupted, lead the watch, and run the periodic chores."""
        from bot.store.audit import forget_old_triggers

        await _guarded(self.changes.carry_on_unfinished)
        if self.rt.config.monitor.enabled and self.rt.config.services:
            self.rt.spawn("replicas", self.replicas.run())
            self.rt.spawn("monitor", self.monitor.run())
            self.rt.spawn("leadership", self.leadership.run())

        async def chores() -> None:
            while True:
                await asyncio.sleep(PERIODIC_SECONDS)
                await _guarded(self.changes.expire_due)
                # A replica that stopped or died mid-change left it running: carried on once its lease is free.
                await _guarded(lambda: self.changes.carry_on_unfinished(approved=False))
                # Slack rejects requests older than 5 minutes, so older trigger ids can never be replayed.
                await _guarded(lambda: forget_old_triggers(self.rt.store))

        self.rt.spawn("periodic-chores", chores())
        # Escalation pages and update reminders: every replica looks, the database decides who sends each.
        self.rt.spawn("incident-people", self.people.run())
        self.rt.spawn("home-refresh", self.home.run())

    async def close(self) -> None:
        """Hand the watch over at once (a clean stop), then stop the runtime."""
        if not self._released:
            self._released = True
            await asyncio.shield(self.leadership.release())
            await asyncio.shield(self.replicas.leave())
        await self.rt.close()
        if self.charts.renderer is not None:
            await self.charts.renderer.close()


def build(settings: Settings, config: ServicesFile | None = None) -> ChatOps:
    """The whole bot, wired. ``config`` defaults to the services file the settings name."""
    from bot.alerts.intake import AlertIntake
    from bot.changes.slack_flow import RollbackFlow
    from bot.dbops.kinds import change_kinds
    from bot.home.service import HomeTab
    from bot.incidents.deploy_watch import DeployWatch
    from bot.incidents.leadership import Leadership
    from bot.incidents.monitor import Monitor
    from bot.incidents.people import IncidentPeople
    from bot.incidents.service import Incidents
    from bot.incidents.sharing import Replicas
    from bot.runtime import build_runtime
    from bot.slack.files import ChartPoster
    from bot.status.publish import PublicUpdates
    from bot.status.web import StatusSite
    from bot.store.leases import new_holder_id
    from handlers.db import DbHandlers
    from handlers.diagnose import DiagnoseHandlers
    from handlers.health import HealthHandlers
    from handlers.home import HomeHandlers
    from handlers.incident import IncidentHandlers
    from handlers.logs import LogsHandlers
    from handlers.rollback import RollbackHandlers
    from handlers.status_publish import PublicUpdateHandlers
    from playbooks import PlaybookRunner

    config = config if config is not None else load_config(settings)
    http = outbound_http()
    rt = build_runtime(settings, config, http=http,
                       railway=railway_client(settings, http, timeout=settings.CHATOPS_RAILWAY_TIMEOUT_SECONDS))
    playbooks = PlaybookRunner(config, rt.http, rt.railway, rt.store)
    watch_settings = config.monitor

    holder = new_holder_id()  # this process, in the leases it holds (the watch, the changes it runs)
    changes = RollbackFlow(rt, holder)
    for kind in change_kinds(rt, holder):  # database changes (a backup…) go through the same approvals
        changes.add_kind(kind)
    charts = ChartPoster(rt.slack, rt.http, chart_renderer(settings), audit=rt.audit.received)
    incidents = Incidents(rt, watch_settings, playbook_runner=playbooks.for_symptom, request_change=changes.request,
                          share_chart=charts.share)
    changes.events.on_requested.append(incidents.on_change_requested)
    changes.events.on_decided.append(incidents.on_change_decided)
    changes.events.on_finished.append(incidents.on_change_finished)
    people = IncidentPeople(rt, incidents)

    # Every replica probes the services it owns; one replica (the lease holder) follows the deploys.
    replicas = Replicas(rt.store, holder, ttl=watch_settings.lease_seconds,
                        services=[s.name for s in config.services])
    monitor = Monitor(rt, incidents, watch_settings, owns=replicas.owns)
    deploy_watch = DeployWatch(rt, incidents, watch_settings)
    duties = [("deploy-watch", deploy_watch.run)] if rt.railway is not None else []
    leadership = Leadership(rt.store, duties, ttl=watch_settings.lease_seconds, holder=holder)
    public_updates = PublicUpdates(rt, incidents)
    home = HomeTab(rt, changes)

    return ChatOps(
        rt=rt, changes=changes, incidents=incidents, people=people, monitor=monitor, deploy_watch=deploy_watch,
        replicas=replicas, leadership=leadership, alerts=AlertIntake(rt, incidents), public_updates=public_updates,
        status_site=StatusSite(rt),
        health=HealthHandlers(rt, charts, on_checked=incidents.on_health_checked),
        diagnose=DiagnoseHandlers(rt, playbooks.run, charts, on_diagnosed=incidents.on_diagnosed),
        rollback=RollbackHandlers(rt, changes),
        incident=IncidentHandlers(rt, incidents, people, monitor, public_updates),
        logs=LogsHandlers(rt),
        db=DbHandlers(rt, changes),
        public_update_buttons=PublicUpdateHandlers(rt, public_updates),
        charts=charts, home=home, home_tab=HomeHandlers(rt, home),
    )


def chart_renderer(settings: Settings) -> ChartRenderer | None:
    """The chart worker's client (the worker starts with the first chart), or None when charts are off."""
    if not settings.CHATOPS_CHARTS:
        return None
    from bot.charts.renderer import ChartRenderer

    return ChartRenderer(timeout=settings.CHATOPS_CHART_TIMEOUT_SECONDS, memory_mb=settings.CHATOPS_CHART_MEMORY_MB)


async def _guarded(chore: Callable[[], Awaitable[object]]) -> None:
    try:
        await chore()
    except Exception:
        logger.exception("%s failed", getattr(chore, "__qualname__", chore))
