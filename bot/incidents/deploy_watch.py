"""The deploy watch: notice new Railway deployments, announce them, verify the ones that go live, and
open an incident (offering an approval-gated rollback) when one fails.

Two ways in, one way to act: the leader polls each service's deployments every
``deploy_poll_seconds``, and Railway's project webhooks (``POST /webhooks/railway/<token>``, when
``CHATOPS_WEBHOOK_TOKEN`` is set) reach any replica. Railway does not sign webhooks
(shared/railway/webhooks.md §5), so the route checks the secret path token in constant time, accepts
only configured project ids, drops duplicates and events older than the newest seen for that
deployment, and acts only on what the API says when the deployment is read again. Every step is
claimed in the database (``watched_deployments``: one guarded UPDATE per status), so a webhook and a
poll, or two replicas, never act twice on the same deployment status.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.changes.runner import deployment_summary
from bot.changes.verification import verify_deployment
from bot.common import json_depth
from bot.config.services import ServiceConfig
from bot.incidents.policy import Signal, WatchSettings, health_of, is_failing, severity_for
from bot.incidents.render import deployment_announcement
from bot.incidents.service import Incidents
from bot.railway.errors import RailwayError
from bot.railway.models import Deployment, ServiceIds, parse_time
from bot.runtime import Runtime
from bot.slack import post as slack_messages
from bot.slack.post import Posted
from bot.store import incidents as store
from bot.store.incidents import Incident
from bot.store.models import utcnow
from bot.store.probes import keep_reports

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/railway/{token}"
# Order of a deployment's life; a status never moves back (an older event is stale).
RANK = {"QUEUED": 0, "WAITING": 0, "INITIALIZING": 0, "NEEDS_APPROVAL": 0, "BUILDING": 1, "DEPLOYING": 2,
        "SUCCESS": 3, "FAILED": 3, "SKIPPED": 3, "SLEEPING": 4, "CRASHED": 4, "REMOVING": 5, "REMOVED": 5}
BROKEN = ("FAILED", "CRASHED")
# Webhook ``type`` suffixes (normalised: lowercase, no ``_``) → DeploymentStatus, for the tolerant parser.
SUFFIX_STATUS = {"deployed": "SUCCESS", "redeployed": "SUCCESS", "failed": "FAILED", "crashed": "CRASHED",
                 "oomkilled": "CRASHED", "removed": "REMOVED", "building": "BUILDING", "deploying": "DEPLOYING",
                 "queued": "QUEUED", "waiting": "WAITING", "needsapproval": "NEEDS_APPROVAL", "slept": "SLEEPING"}
DEDUPE_TTL = 3600.0
DEDUPE_MAX = 10_000


@dataclass(frozen=True)
class WebhookEvent:
    """A Railway webhook body, read tolerantly (current and legacy formats, every key optional)."""

    type: str  # normalised, e.g. "deployment.oomkilled"
    project_id: str | None
    environment_id: str | None
    ephemeral: bool
    deployment_id: str | None
    status: str | None
    timestamp: datetime | None
    raw_timestamp: str

    @property
    def key(self) -> tuple:
        return (self.deployment_id, self.type, self.raw_timestamp)


def _get(data: object, *path: str) -> object:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def parse_webhook(body: object) -> WebhookEvent | None:
    """None when the body is not a JSON object."""
    if not isinstance(body, dict):
        return None
    raw_type = _text(body.get("type")) or ""
    kind = raw_type.lower().replace("_", "")
    suffix = kind.rsplit(".", 1)[-1]
    status = _text(body.get("status")) or _text(_get(body, "details", "status")) or SUFFIX_STATUS.get(suffix)
    raw_ts = _text(body.get("timestamp")) or ""
    try:
        timestamp = parse_time(raw_ts) if raw_ts else None
    except ValueError:
        timestamp = None
    return WebhookEvent(
        type=kind,
        project_id=_text(_get(body, "resource", "project", "id")) or _text(_get(body, "project", "id")),
        environment_id=_text(_get(body, "resource", "environment", "id")) or _text(_get(body, "environment", "id")),
        ephemeral=_get(body, "resource", "environment", "isEphemeral") is True,
        deployment_id=(_text(_get(body, "resource", "deployment", "id")) or _text(_get(body, "deployment", "id"))
                       or (_text(_get(body, "details", "id")) if kind.startswith("deployment") else None)),
        status=status.upper() if status else None,
        timestamp=timestamp,
        raw_timestamp=raw_ts,
    )


class DeployWatch:
    def __init__(self, rt: Runtime, incidents: Incidents, settings: WatchSettings) -> None:
        self.rt = rt
        self.incidents = incidents
        self.settings = settings
        self._ids: dict[str, ServiceIds] = {}
        self._seen: OrderedDict[tuple, float] = OrderedDict()
        self._newest: dict[str, datetime] = {}
        self.polls = 0

    def services(self) -> list[ServiceConfig]:
        return [s for s in self.rt.config.services if s.railway is not None]

    async def _service_ids(self, service: ServiceConfig) -> ServiceIds | None:
        if service.name not in self._ids:
            try:
                self._ids[service.name] = await self.rt.railway.resolve(service.railway)
            except (RailwayError, Exception) as exc:
                logger.warning("deploy watch cannot resolve %s on Railway: %s", service.name, exc)
                return None
        return self._ids[service.name]

    # ---- polling (the leader's duty) -----------------------------------------------------------------------

    async def run(self) -> None:
        """Forever (the leader's duty): a poll every ``deploy_poll_seconds``, the first one after taking the lead."""
        while True:
            await asyncio.sleep(self.settings.deploy_poll_seconds)
            try:
                await self.poll()
            except Exception:
                logger.exception("deploy watch round failed")

    async def poll(self) -> None:
        """Each service's recent deployments, oldest first; the very first look only records them."""
        if self.rt.railway is None:
            return
        for service in self.services():
            ids = await self._service_ids(service)
            if ids is None:
                continue
            try:
                deployments = await self.rt.railway.deployments(ids, limit=5)
            except RailwayError as exc:
                logger.warning("deploy watch cannot list deployments of %s: %s", service.name, exc)
                continue
            baseline = not await store.any_watched(self.rt.store, service.name)
            for dep in sorted(deployments, key=lambda d: d.created_at):
                await self.handle(service, dep, baseline=baseline)
        self.polls += 1

    # ---- webhooks (any replica) ------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        expected = self.rt.settings.CHATOPS_WEBHOOK_TOKEN or ""
        token = request.match_info.get("token", "")
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            return web.json_response({"error": "not found"}, status=404)
        try:  # json_depth: a body nested 20,000 deep would otherwise raise RecursionError (a 500)
            event = parse_webhook(json_depth.loads(await request.read()))
        except ValueError:
            event = None
        if event is None:
            return web.json_response({"error": "expected a JSON object"}, status=400)
        if event.project_id not in await self._project_ids():
            logger.warning("Railway webhook for an unknown project ignored", extra={"project": event.project_id})
            return web.json_response({"ignored": "project"}, status=202)
        if event.ephemeral or not event.deployment_id:
            return web.json_response({"ignored": "not a deployment of a watched environment"}, status=202)
        if not self._first_delivery(event):
            return web.json_response({"ignored": "duplicate"}, status=200)
        if self._stale(event):
            return web.json_response({"ignored": "stale"}, status=202)
        self.rt.spawn(f"deploy-webhook-{event.deployment_id}", self._from_webhook(event))
        return web.json_response({"accepted": True}, status=202)

    async def _project_ids(self) -> set[str]:
        found = {s.railway.project_id for s in self.services() if s.railway.project_id}
        if self.rt.railway is not None:
            for service in self.services():
                ids = await self._service_ids(service)
                if ids:
                    found.add(ids.project_id)
        return found

    def _first_delivery(self, event: WebhookEvent) -> bool:
        now = time.monotonic()
        while self._seen and (next(iter(self._seen.values())) < now - DEDUPE_TTL or len(self._seen) > DEDUPE_MAX):
            self._seen.popitem(last=False)
        if event.key in self._seen:
            return False
        self._seen[event.key] = now
        return True

    def _stale(self, event: WebhookEvent) -> bool:
        """Older than the newest event already taken for this deployment (deliveries are unordered)."""
        if event.timestamp is None:
            return False
        newest = self._newest.get(event.deployment_id)
        if newest is not None and event.timestamp < newest:
            return True
        self._newest[event.deployment_id] = event.timestamp
        return False

    async def _from_webhook(self, event: WebhookEvent) -> None:
        """Never act on the payload: read the deployment again and act on what Railway says now."""
        if self.rt.railway is None:
            return
        try:
            dep = await self.rt.railway.deployment(event.deployment_id)
        except RailwayError as exc:
            logger.warning("could not read deployment %s named by a webhook: %s", event.deployment_id, exc)
            return
        for service in self.services():
            ids = await self._service_ids(service)
            if ids and ids.service_id == dep.service_id and ids.environment_id == dep.environment_id:
                await self.handle(service, dep, seen_at=event.timestamp)
                return

    # ---- acting on a status, once --------------------------------------------------------------------------

    async def handle(self, service: ServiceConfig, dep: Deployment, *, baseline: bool = False,
                     seen_at: datetime | None = None) -> None:
        seen = await store.watched(self.rt.store, dep.id)
        if seen is None:
            if not await store.claim_new_deployment(self.rt.store, dep.id, service.name, dep.status) or baseline:
                return
            where = await self._announce(service, dep)
        else:
            if dep.status == seen.status or RANK.get(dep.status, 0) < RANK.get(seen.status, 0):
                return
            if not await store.advance_deployment(self.rt.store, dep.id, seen.status, dep.status):
                return
            where = (seen.announce_channel, seen.announce_ts) if seen.announce_ts else None
        at = min(seen_at or utcnow(), utcnow())
        if dep.status == "SUCCESS":
            self.rt.spawn(f"verify-{dep.id}", self._verify(service, dep, where, at))
        elif dep.status in BROKEN:
            self.rt.spawn(f"deploy-failed-{dep.id}", self._broken(service, dep, where, at))
        else:
            self._show(where, service, dep, "progress")

    async def _announce(self, service: ServiceConfig, dep: Deployment) -> tuple[str, str] | None:
        channel = self.incidents.channel
        if not channel:
            return None
        text, blocks = deployment_announcement(service.name, deployment_summary(dep), self.incidents.language(),
                                               state="new")
        posted = await slack_messages.post_in(self.rt, channel, text, blocks, what="deploy.announcement",
                                              subject=dep.id)
        if posted:
            await store.set_deployment_fields(self.rt.store, dep.id, announce_channel=posted[0],
                                              announce_ts=posted[1])
        return posted

    def _show(self, where: tuple[str, str] | None, service: ServiceConfig, dep: Deployment, state: str,
              detail: str = "", incident: Incident | None = None) -> None:
        """Edit the deployment's announcement (paced like the summaries)."""
        if not where:
            return
        summary, lang = deployment_summary(dep), self.incidents.language()

        async def render() -> tuple[str, list[dict]]:
            return deployment_announcement(service.name, summary, lang, state=state, detail=detail, incident=incident)

        async def failed(edit: Posted, text: str, blocks: list[dict]) -> None:  # nowhere else to go: recorded
            await slack_messages.fail_over(self.rt, edit, text, blocks, what="deploy.announcement", subject=dep.id)

        self.incidents.pacer.request(where[0], where[1], render, on_failure=failed)

    async def _verify(self, service: ServiceConfig, dep: Deployment, where, live_at: datetime) -> None:
        """The post-deploy verification (as after /rollback), retried so one slow start pages nobody."""
        self._show(where, service, dep, "verifying")
        lang = self.incidents.language()
        for attempt in range(self.settings.failures_to_open):
            result = await verify_deployment(self.rt, service.name, dep.id, lang)
            if result.healthy:
                self._show(where, service, dep, "verified", detail=result.reason)
                await self.incidents.note_deployment(service.name, deployment_summary(dep), verified="healthy")
                return
            if attempt + 1 < self.settings.failures_to_open:
                await asyncio.sleep(self.settings.interval_seconds)
        report = result.report
        failing = report is not None and is_failing(report)
        signal = Signal(reason="deploy_unverified", verdict=report.verdict if report else "degraded",
                        severity=severity_for(report.verdict) if failing else "sev2", started_at=live_at,
                        detected_at=utcnow(), args={"deployment": dep.id, "detail": result.reason},
                        symptom=result.next_step or "deploy_unverified", failing=failing,
                        health=health_of(report) if report else {})
        incident = await self._open(service, dep, signal)
        self._show(where, service, dep, "unverified", detail=result.reason, incident=incident)

    async def _broken(self, service: ServiceConfig, dep: Deployment, where, at: datetime) -> None:
        """FAILED or CRASHED. A FAILED build never went live: with the service healthy, the previous
        deployment keeps serving, so the incident is minor and a rollback would only go further back."""
        report = await self.rt.prober.probe_service(service)
        self.rt.spawn("probe-history", keep_reports(self.rt.store, [report], source="verify"))
        failing = is_failing(report)
        serving = dep.status == "FAILED" and not failing
        signal = Signal(reason="deploy_crashed" if dep.status == "CRASHED" else "deploy_failed",
                        verdict=report.verdict, severity="sev3" if serving else severity_for(report.verdict),
                        started_at=at, detected_at=utcnow(), args={"deployment": dep.id, "serving": serving},
                        symptom=report.next_step or dep.status.lower(), failing=failing,
                        health=health_of(report))
        incident = await self._open(service, dep, signal)
        self._show(where, service, dep, "failed_serving" if serving else "failed", incident=incident)

    async def _open(self, service: ServiceConfig, dep: Deployment, signal: Signal) -> Incident:
        opened = await self.incidents.open(service.name, signal, source="deploy", deployment=deployment_summary(dep))
        await store.set_deployment_fields(self.rt.store, dep.id, incident_id=opened.incident.id)
        return opened.incident
