"""Volume backups: what exists (``/db <service> backups``) and an approved manual backup (``backup``).

A backup is made once: the mutation is sent by the one runner ``actions.start`` lets through, never
retried after an ambiguous answer (Railway may have acted), and followed until the new backup is in
Railway's list. ``params`` records what is known before and after the mutation, so a restart resumes
the follow, or says the outcome is unknown when the mutation was sent and no answer came.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.changes.holding import fence
from bot.dbops.claim import claim
from bot.dbops.render import change_message
from bot.dbops.target import DatabaseVolume, database_volume, db_service
from bot.railway import BackupSchedule, RailwayClient, VolumeBackup
from bot.railway.errors import RailwayError, RailwayServerError, RailwayTimeout
from bot.runtime import Runtime
from bot.store import actions

STALE_AFTER = timedelta(days=1)
Report = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class BackupsReport:
    service: str
    target: DatabaseVolume
    backups: list[VolumeBackup]  # newest first
    schedules: list[BackupSchedule]
    now: datetime

    @property
    def newest(self) -> VolumeBackup | None:
        return self.backups[0] if self.backups else None

    @property
    def warnings(self) -> list[str]:
        """Catalogue keys (``db.warn.*``): no backup, the newest older than a day, no schedule."""
        out = []
        if self.newest is None:
            out.append("none")
        elif self.now - self.newest.created_at > STALE_AFTER:
            out.append("stale")
        if not self.schedules:
            out.append("no_schedule")
        return out


async def read_backups(rt: Runtime, service_name: str) -> BackupsReport:
    service = db_service(rt.config, service_name)
    target = await database_volume(rt.railway, service)
    backups, schedules = await asyncio.gather(rt.railway.backups(target.volume.id),
                                              rt.railway.backup_schedules(target.volume.id))
    return BackupsReport(service.name, target, backups, schedules, datetime.now(UTC))


CREATE = "volumeInstanceBackupCreate"
# Why a mutation's answer was never recorded, in the audit row of one found so after a restart or a pause.
UNANSWERED = "the bot stopped, or its database did not answer, after sending it and before recording an answer"


def backup_name(request_id: str, key: str) -> str:
    """The name the bot gives the backup it makes for a request (``volumeInstanceBackupCreate(name:)``,
    which Railway keeps as the backup's ``name``): how the bot knows its backup in the list, whether
    or not an answer named the workflow, and never mistakes a scheduled backup finishing meanwhile for it."""
    return f"chatops before restore {request_id}" if key == "fresh" else f"chatops {request_id}"


@dataclass(frozen=True)
class BackupProgress:
    stage: str  # sent | waiting | unanswered | restarted
    detail: dict = field(default_factory=dict)


@dataclass
class BackupMaker:
    """Makes one backup for a request, recording each step in its params and events.

    ``<key>_sending`` is written before the mutation leaves and ``<key>_workflow`` once Railway answers,
    so after a restart the bot knows whether the mutation may have gone. Either way the backup is found
    by its name (``backup_name``); a mutation with no answer is never sent again, only looked for."""

    rt: Runtime
    poll_interval: float
    timeout: float

    @property
    def railway(self) -> RailwayClient:
        assert self.rt.railway is not None
        return self.rt.railway

    async def make(self, req: actions.ActionRequest, volume_id: str, report: Report,
                   key: str = "backup") -> str | None:
        """Send ``volumeInstanceBackupCreate`` once and wait for the backup; returns its id, or None after
        finishing the request as failed. ``key`` names this backup in params (a restore makes one too)."""
        store = self.rt.store
        name = backup_name(req.id, key)
        known = [b.id for b in await self.railway.backups(volume_id)]
        await actions.update_params(store, req.id, fence=fence(),
                                    event=(f"railway.{CREATE}.sent", {"volume": volume_id, "name": name}),
                                    **{f"{key}_known": known, f"{key}_sending": True})
        try:
            workflow = await self.railway.create_backup(volume_id, name)
        except (RailwayTimeout, RailwayServerError) as exc:
            self.audit(req, CREATE, "error", str(exc), volume_id)
            if not exc.ambiguous:  # it never reached Railway (the connection was refused)
                await self._fail(req, "railway_error", str(exc))
                return None
            await actions.log_event(store, req.id, f"railway.{CREATE}.unanswered", data={"error": str(exc)})
            return await self.look_for(req, volume_id, set(known), report, key, lost="ambiguous", why=str(exc))
        except RailwayError as exc:
            self.audit(req, CREATE, "error", str(exc), volume_id)
            await self._fail(req, "railway_error", str(exc))
            return None
        self.audit(req, CREATE, "ok", "", volume_id)
        await actions.update_params(store, req.id, event=(f"railway.{CREATE}.result", {"workflow": workflow}),
                                    **{f"{key}_workflow": workflow or ""})
        await report(BackupProgress("sent"))
        return await self.follow(req.id, volume_id, set(known), workflow, report, key)

    async def recover(self, req: actions.ActionRequest, volume_id: str, report: Report,
                      key: str = "backup") -> str | None:
        """After a restart, a backup whose mutation went without an answer the bot recorded: audited as
        such, never sent again, looked for by its name until it is listed or the follow time runs out."""
        self.audit(req, CREATE, "unanswered", UNANSWERED, volume_id)
        await actions.log_event(self.rt.store, req.id, f"railway.{CREATE}.unanswered", data={"restart": True})
        known = set(req.params.get(f"{key}_known", []))
        return await self.look_for(req, volume_id, known, report, key, lost="unknown", why="", stage="restarted")

    async def look_for(self, req: actions.ActionRequest, volume_id: str, known: set[str], report: Report, key: str, *,
                       lost: str, why: str, stage: str = "unanswered") -> str | None:
        """Follow the list for the backup named for this request, with no workflow to ask; its outcome
        (listed or not) is audited, since nothing else says what Railway did."""
        name = backup_name(req.id, key)
        await actions.update_params(self.rt.store, req.id, watched_name=name, watched_seconds=self.timeout)
        await report(BackupProgress(stage, {"name": name, "seconds": self.timeout, "error": why}))
        backup = await self.follow(req.id, volume_id, known, None, report, key, lost=lost, lost_detail=why,
                                   quiet=True)
        if backup:
            self.audit(req, CREATE, "listed", f"backup {backup} ({name}) is in the list", volume_id)
        else:
            self.audit(req, CREATE, "not_listed", f"no backup named {name!r} listed; not sent again", volume_id)
        return backup

    async def follow(self, request_id: str, volume_id: str, known: set[str], workflow: str | None, report: Report,
                     key: str = "backup", *, lost: str = "timeout", lost_detail: str = "",
                     quiet: bool = False) -> str | None:
        """Poll the list until the backup named for this request appears (or the workflow fails); ``lost``
        is the verdict when the follow time runs out first. ``quiet``: the message already says it waits."""
        name = backup_name(request_id, key)
        deadline = time.monotonic() + self.timeout
        req = await actions.get(self.rt.store, request_id)
        waiting = quiet
        try:
            while True:
                mine = [b for b in await self.railway.backups(volume_id) if b.name == name and b.id not in known]
                if mine:
                    await actions.update_params(self.rt.store, request_id, **{f"{key}_id": mine[0].id},
                                                event=("railway.backup.listed", {"backup": mine[0].id}))
                    return mine[0].id
                if workflow:
                    status, error = await self.railway.workflow_status(workflow)
                    if status == "Error":
                        await self._fail(req, "workflow_error", error or "")
                        return None
                if time.monotonic() > deadline:
                    await self._fail(req, lost, lost_detail)
                    return None
                if not waiting:  # one edit of the message, not one per poll (chat.update is rate-limited)
                    waiting = True
                    await report(BackupProgress("waiting"))
                await asyncio.sleep(self.poll_interval)
        except RailwayError as exc:
            await self._fail(req, "railway_error", str(exc))
            return None

    async def _fail(self, req: actions.ActionRequest, verdict: str, detail: str) -> None:
        await actions.finish(self.rt.store, req.id, succeeded=False, verdict=verdict, detail=detail[:300])

    def audit(self, req: actions.ActionRequest, mutation: str, outcome: str, detail: str, argument: str) -> None:
        self.rt.audit.received(kind="system", name=f"railway.{mutation}", outcome=outcome, detail=detail,
                               subject=req.id, arguments=argument)


class BackupKind:
    """``db_backup``: an approved manual backup of the service's database volume."""

    action = "db_backup"
    typed_confirmation = False

    def __init__(self, rt: Runtime, holder: str) -> None:
        self.rt = rt
        self.holder = holder
        settings = rt.settings
        self.maker = BackupMaker(rt, settings.CHATOPS_FOLLOW_POLL_SECONDS, settings.CHATOPS_FOLLOW_TIMEOUT_SECONDS)

    def message(self, req: actions.ActionRequest, lang: str, progress: Any) -> tuple[str, list[dict]]:
        return change_message(req, lang, progress)

    async def run(self, req: actions.ActionRequest, report: Report) -> None:
        async with claim(self.rt, req.id, self.holder, resumed=False) as held:
            if held:
                await self._made(held.request, report)

    async def resume(self, req: actions.ActionRequest, report: Report, *, announce: bool = True) -> None:
        async with claim(self.rt, req.id, self.holder, resumed=announce) as held:
            if held:
                await self._carry_on(held.request, report)

    async def _made(self, req: actions.ActionRequest, report: Report) -> None:
        await self._done(req, await self.maker.make(req, req.params["volume_instance_id"], report))

    async def _carry_on(self, req: actions.ActionRequest, report: Report) -> None:
        params = req.params
        volume_id = params["volume_instance_id"]
        if "backup_workflow" in params:
            backup = await self.maker.follow(req.id, volume_id, set(params.get("backup_known", [])),
                                             params["backup_workflow"] or None, report)
        elif params.get("backup_sending"):
            backup = await self.maker.recover(req, volume_id, report)
        else:
            await self._made(req, report)
            return
        await self._done(req, backup)

    async def _done(self, req: actions.ActionRequest, backup: str | None) -> None:
        if backup:
            await actions.finish(self.rt.store, req.id, succeeded=True, verdict="done", detail=backup)


async def request_backup(rt: Runtime, flow, service_name: str, *, user: str, channel: str, lang: str,
                         reason: str, tell=None) -> actions.ActionRequest:
    """Check the volume exists (so the approver approves something real), then post the request."""
    service = db_service(rt.config, service_name)
    await flow.refuse_if_pending(service.name, BackupKind.action)
    target = await database_volume(rt.railway, service)
    return await flow.request_change(BackupKind.action, service.name, user=user, channel=channel, lang=lang,
                                     reason=reason, tell=tell, params={"volume_instance_id": target.volume.id,
                                                            "database_service_id": target.database_ids.service_id,
                                                            "size_mb": target.volume.current_size_mb})
