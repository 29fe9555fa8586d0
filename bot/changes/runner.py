"""Rollback domain: choosing the target, and running an approved change exactly once.

The same runner executes the other approval-gated changes a playbook may offer (redeploy,
restart): one Railway mutation, then following the deployment and verifying the service.

No Slack here: progress is reported through a callback, so the same runner serves /rollback,
incidents and the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.changes.holding import fence, hold
from bot.common.errors import ChatopsError
from bot.railway import RailwayClient
from bot.railway.errors import RailwayError, RailwayServerError, RailwayTimeout
from bot.railway.models import Deployment, ServiceIds
from bot.store import Store, StoreUnavailable, actions

logger = logging.getLogger(__name__)

GOOD_PAST = {"SUCCESS", "REMOVED"}  # Railway marks the replaced deployment REMOVED
NEVER_TARGET = {"FAILED", "CRASHED", "SKIPPED"}
TERMINAL_OK = {"SUCCESS"}
TERMINAL_BAD = {"FAILED", "CRASHED", "REMOVED", "SKIPPED"}
FOLLOW_READ_FAILURES = 3  # Railway reads in a row that may fail while following a change it took
MUTATIONS = {"rollback": "deploymentRollback", "redeploy": "deploymentRedeploy", "restart": "deploymentRestart"}


class RollbackRefused(ChatopsError):
    """The rollback cannot be requested as asked (no target, wrong service, not rollbackable)."""

    def __init__(self, key: str, **variables) -> None:
        self.key = key
        self.variables = variables
        super().__init__(key)


def current_deployment(deployments: Sequence[Deployment]) -> Deployment | None:
    """The deployment serving now: the newest SUCCESS (deployments come newest first)."""
    return next((d for d in deployments if d.status == "SUCCESS"), None)


def pick_target(deployments: Sequence[Deployment], current: Deployment | None) -> Deployment:
    """The newest earlier deployment that ran successfully and can be rolled back to."""
    for dep in deployments:
        if current and (dep.id == current.id or dep.created_at >= current.created_at):
            continue
        if dep.status in GOOD_PAST and dep.can_rollback:
            return dep
    raise RollbackRefused("rollback.refused.no_target")


def check_explicit_target(deployments: Sequence[Deployment], current: Deployment | None,
                          target_id: str) -> Deployment:
    target = next((d for d in deployments if d.id == target_id), None)
    if target is None:
        raise RollbackRefused("rollback.refused.not_this_service", deployment=target_id)
    if current and target.id == current.id:
        raise RollbackRefused("rollback.refused.is_current", deployment=target_id)
    if target.status in NEVER_TARGET or not target.can_rollback:
        raise RollbackRefused("rollback.refused.not_rollbackable", deployment=target_id, status=target.status)
    return target


def deployment_summary(dep: Deployment | None) -> dict:
    if dep is None:
        return {}
    return {"id": dep.id, "status": dep.status, "created_at": dep.created_at.isoformat(),
            "commit_hash": dep.commit_hash, "commit_message": dep.commit_message, "branch": dep.branch}


class ChangeNotRecorded(Exception):
    """The database did not answer before the mutation was sent, so it was not sent: a change never runs
    without its exactly-once record (the request's ``running`` state and its ``….sent`` event)."""


@dataclass(frozen=True)
class Progress:
    """One step the runner reports: ``stage`` names it, ``status`` is Railway's when known."""

    stage: str  # sent | deploying | verifying | done | failed
    status: str | None = None
    deployment_id: str | None = None
    detail: str = ""
    healthy: bool | None = None
    next_step: str | None = None


Reporter = Callable[[Progress], Awaitable[None]]
# (service name, deployment id, language) -> (healthy, one-line reason, playbook to run next)
Verifier = Callable[[str, str, str], Awaitable[tuple[bool, str, str | None]]]


@dataclass
class ActionRunner:
    """Runs one approved request: the mutation once, then follows and verifies the deployment."""

    store: Store
    railway: RailwayClient
    verify: Verifier
    follow_timeout: float = 600.0
    poll_interval: float = 1.0
    audit: Callable[..., None] | None = None
    holder: str = "chatops"  # this process, in the change's lease (bot.changes.holding)
    lease_seconds: float = 30.0

    async def run(self, request_id: str, ids: ServiceIds, report: Reporter) -> actions.ActionRequest | None:
        """Raises ChangeNotRecorded when the database does not answer before the mutation is sent, and
        LeaseLost when another replica took the change over before it was sent (this one stalled)."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                held = await stack.enter_async_context(hold(self.store, request_id, self.holder, self.lease_seconds))
                started = await actions.start(self.store, request_id) if held else None
            except StoreUnavailable as exc:
                raise ChangeNotRecorded(request_id) from exc
            if started is None or not started.won:  # someone else runs it, or it is no longer approved
                return started.request if started else None
            return await self._send(started.request, ids, report)

    async def _send(self, req: actions.ActionRequest, ids: ServiceIds,
                    report: Reporter) -> actions.ActionRequest | None:
        """The mutation, once (recorded first, under the change's lease), then the deployment followed."""
        target_id = req.target_deployment["id"]
        mutation = MUTATIONS[req.action]
        try:
            before = {d.id for d in await self.railway.deployments(ids, limit=50)}
        except RailwayError as exc:
            return await self._fail(req, "railway_error", str(exc), report)
        try:
            await actions.log_event(self.store, req.id, f"railway.{mutation}.sent", data={"target": target_id},
                                    fence=fence())
        except StoreUnavailable as exc:
            raise ChangeNotRecorded(req.id) from exc
        try:
            accepted = await self._mutate(req.action, target_id)
        except (RailwayTimeout, RailwayServerError) as exc:
            await self._call_audit(req, mutation, "error", str(exc))
            return await self._fail(req, "ambiguous", str(exc), report)
        except RailwayError as exc:
            await self._call_audit(req, mutation, "error", str(exc))
            return await self._fail(req, "railway_error", str(exc), report)
        await actions.log_event(self.store, req.id, f"railway.{mutation}.result", data={"ok": bool(accepted)})
        await self._call_audit(req, mutation, "ok" if accepted else "refused", "")
        if not accepted:
            return await self._fail(req, "railway_refused", "", report)
        if isinstance(accepted, Deployment):  # a redeploy names its new deployment
            await actions.set_new_deployment(self.store, req.id, accepted.id)
            req = (await actions.get(self.store, req.id)) or req
        elif req.action == "restart":  # a restart keeps the same deployment
            await actions.set_new_deployment(self.store, req.id, target_id)
            req = (await actions.get(self.store, req.id)) or req
        await report(Progress("sent"))
        return await self.follow(req, ids, before, report)

    async def _mutate(self, action: str, deployment_id: str) -> bool | Deployment:
        if action == "rollback":
            return await self.railway.rollback(deployment_id)
        if action == "redeploy":
            return await self.railway.redeploy(deployment_id)
        if action == "restart":
            return await self.railway.restart(deployment_id)
        raise ValueError(f"unknown action {action!r}")

    async def follow(self, req: actions.ActionRequest, ids: ServiceIds, before: set[str],
                     report: Reporter) -> actions.ActionRequest | None:
        """Poll Railway until the new deployment ends. Railway took the change already, so a read that fails
        is polled again; after FOLLOW_READ_FAILURES in a row the change ends as ``lost_track`` (never
        "refused": it ran)."""
        deadline = time.monotonic() + self.follow_timeout
        new_id = req.new_deployment_id
        status = None
        failures = 0
        while True:
            try:
                if new_id is None:
                    new = [d for d in await self.railway.deployments(ids, limit=20) if d.id not in before]
                    if new:
                        new_id = new[0].id
                        await actions.set_new_deployment(self.store, req.id, new_id)
                        await actions.log_event(self.store, req.id, "railway.deployment.created",
                                                data={"deployment": new_id})
                        continue
                else:
                    dep = await self.railway.deployment(new_id)
                    if dep.status != status:
                        status = dep.status
                        await actions.log_event(self.store, req.id, "railway.deployment.status",
                                                data={"deployment": new_id, "status": status})
                        await report(Progress("deploying", status=status, deployment_id=new_id))
                    if status in TERMINAL_OK or status in TERMINAL_BAD:
                        break
                failures = 0
            except RailwayError as exc:
                failures += 1
                logger.warning("following %s: Railway read %d failed: %s", req.id, failures, exc)
                if failures >= FOLLOW_READ_FAILURES:
                    return await self._fail(req, "lost_track", str(exc), report, deployment_id=new_id)
            if time.monotonic() > deadline:
                return await self._fail(req, "timeout", status or "", report, deployment_id=new_id)
            await asyncio.sleep(self.poll_interval)
        if status in TERMINAL_BAD:
            return await self._fail(req, "deploy_failed", status, report, deployment_id=new_id)
        await report(Progress("verifying", status=status, deployment_id=new_id))
        healthy, why, next_step = await self.verify(req.service, new_id, req.lang)
        verdict = "healthy" if healthy else "unhealthy"
        done = await actions.finish(self.store, req.id, succeeded=True, verdict=verdict, detail=why)
        await report(Progress("done", status=status, deployment_id=new_id, detail=why, healthy=healthy,
                              next_step=next_step))
        return done.request

    async def _fail(self, req: actions.ActionRequest, verdict: str, detail: str, report: Reporter,
                    deployment_id: str | None = None) -> actions.ActionRequest | None:
        done = await actions.finish(self.store, req.id, succeeded=False, verdict=verdict, detail=detail)
        await report(Progress("failed", status=verdict, deployment_id=deployment_id, detail=detail))
        return done.request

    async def _call_audit(self, req: actions.ActionRequest, mutation: str, outcome: str, detail: str) -> None:
        if self.audit:
            self.audit(kind="system", name=f"railway.{mutation}", outcome=outcome, detail=detail,
                       subject=req.id, arguments=req.target_deployment.get("id", ""))
