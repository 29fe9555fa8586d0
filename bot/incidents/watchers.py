"""Wiring incidents into a runtime: the domain object, the leader-elected monitor and deploy watch, the
Railway webhook route and the rollback hook. Called once by the composition root, which supplies the
playbook runner.
"""

from __future__ import annotations

import asyncio

from bot.alerts import intake as alert_intake
from bot.incidents.deploy_watch import WEBHOOK_PATH, DeployWatch
from bot.incidents.leadership import Leadership
from bot.incidents.monitor import Monitor
from bot.incidents.service import Incidents, PlaybookRunner
from bot.runtime import Runtime
from bot.status import publish as status_publish
from bot.status import web as status_web


def install(rt: Runtime, playbook_runner: PlaybookRunner | None = None) -> Incidents:
    """Put ``incidents``, ``monitor``, ``deploy_watch`` and ``leader`` in ``rt.extras``; start leading on startup."""
    settings = rt.config.monitor
    incidents = Incidents(rt, settings, playbook_runner)
    monitor = Monitor(rt, incidents, settings)
    watch = DeployWatch(rt, incidents, settings)
    duties = [("monitor", monitor.run)]
    if rt.railway is not None:
        duties.append(("deploy-watch", watch.run))
    leader = Leadership(rt.store, duties, ttl=settings.lease_seconds)
    rt.extras.update(incidents=incidents, monitor=monitor, deploy_watch=watch, leader=leader)
    rt.extras.setdefault("rollback_finished", []).append(incidents.on_rollback_finished)
    if rt.settings.CHATOPS_WEBHOOK_TOKEN:
        rt.web_routes.append(("POST", WEBHOOK_PATH, watch.webhook))
    alert_intake.install(rt, incidents)  # POST /alerts/<source>/<token> when CHATOPS_ALERTS_TOKEN is set
    status_web.install(rt)  # GET /status, /status.json, /status/feed.atom when [status_page] enabled
    status_publish.install(rt, incidents)  # /incident publish: public updates a second person approves

    async def start_leading() -> None:
        if settings.enabled and rt.config.services:
            rt.spawn("leadership", leader.run())

    rt.startup_hooks.append(start_leading)
    return incidents


async def release_on_stop(rt: Runtime, stop: asyncio.Event) -> None:
    """A background job of ``chatops serve``: on a clean shutdown, hand the lease over at once."""
    await stop.wait()
    leader = rt.extras.get("leader")
    if leader is not None:
        await asyncio.shield(leader.release())
