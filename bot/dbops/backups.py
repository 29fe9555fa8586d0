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


@dataclass(frozen=True)
class BackupProgress:
    stage: str  # sent | waiting
    detail: dict = field(default_factory=dict)


@dataclass
class BackupMaker:
    """Makes one backup for a request, recording each step in its params and events."""

    rt: Runtime
    poll_interval: float
    timeout: float

    @property
    def railway(self) -> RailwayClient:
        assert self.rt.railway is not None
        return self.rt.railway

    async def make(self, req: actions.ActionRequest, volume_id: str, name: str, report: Report,
                   key: str = "backup") -> str | None:
        """Send ``volumeInstanceBackupCreate`` once and wait for the backup; returns its id, or None after
        finishing the request as failed. ``key`` names this backup in params (a restore makes one too)."""
        store = self.rt.store
        known = [b.id for b in await self.railway.backups(volume_id)]
        await actions.update_params(store, req.id, **{f"{key}_known": known, f"{key}_sending": True})
        await actions.log_event(store, req.id, "railway.volumeInstanceBackupCreate.sent", data={"volume": volume_id})
        try:
            workflow = await self.railway.create_backup(volume_id, name)
        except (RailwayTimeout, RailwayServerError) as exc:
            self.audit(req, "volumeInstanceBackupCreate", "error", str(exc), volume_id)
            await self._fail(req, "ambiguous", str(exc))
            return None
        except RailwayError as exc:
            self.audit(req, "volumeInstanceBackupCreate", "error", str(exc), volume_id)
            await self._fail(req, "railway_error", str(exc))
            return None
        self.audit(req, "volumeInstanceBackupCreate", "ok", "", volume_id)
        await actions.update_params(store, req.id, **{f"{key}_workflow": workflow or ""})
        await actions.log_event(store, req.id, "railway.volumeInstanceBackupCreate.result",
                                data={"workflow": workflow})
        await report(BackupProgress("sent"))
        return await self.follow(req.id, volume_id, set(known), workflow, report, key)

    async def follow(self, request_id: str, volume_id: str, known: set[str], workflow: str | None, report: Report,
                     key: str = "backup") -> str | None:
        """Poll the list until a backup that was not there before appears (or the workflow fails)."""
        deadline = time.monotonic() + self.timeout
        req = await actions.get(self.rt.store, request_id)
        waiting = False
        try:
            while True:
                fresh = [b for b in await self.railway.backups(volume_id) if b.id not in known]
                if fresh:
                    await actions.update_params(self.rt.store, request_id, **{f"{key}_id": fresh[0].id})
                    await actions.log_event(self.rt.store, request_id, "railway.backup.listed",
                                            data={"backup": fresh[0].id})
                    return fresh[0].id
                if workflow:
                    status, error = await self.railway.workflow_status(workflow)
                    if status == "Error":
                        await self._fail(req, "workflow_error", error or "")
                        return None
                if time.monotonic() > deadline:
                    await self._fail(req, "timeout", "")
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

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        settings = rt.settings
        self.maker = BackupMaker(rt, settings.CHATOPS_FOLLOW_POLL_SECONDS, settings.CHATOPS_FOLLOW_TIMEOUT_SECONDS)

    def message(self, req: actions.ActionRequest, lang: str, progress: Any) -> tuple[str, list[dict]]:
        return change_message(req, lang, progress)

    async def run(self, req: actions.ActionRequest, report: Report) -> None:
        volume_id = req.params["volume_instance_id"]
        backup = await self.maker.make(req, volume_id, f"chatops {req.id}", report)
        if backup:
            await actions.finish(self.rt.store, req.id, succeeded=True, verdict="done", detail=backup)

    async def resume(self, req: actions.ActionRequest, report: Report) -> None:
        params = req.params
        volume_id = params["volume_instance_id"]
        if "backup_workflow" in params:
            backup = await self.maker.follow(req.id, volume_id, set(params.get("backup_known", [])),
                                             params["backup_workflow"] or None, report)
            if backup:
                await actions.finish(self.rt.store, req.id, succeeded=True, verdict="done", detail=backup)
        elif params.get("backup_sending"):
            await actions.finish(self.rt.store, req.id, succeeded=False, verdict="unknown", detail="")
        else:
            await self.run(req, report)


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
