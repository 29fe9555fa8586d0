"""``/db <service> restore <backup-id>``: an approved restore of the database volume from a backup.

The stronger guard: the approver types the service's name in a Slack modal (``views.open``); the
request says what will be lost (everything written since the backup). Once approved: a fresh backup
first (followed until Railway lists it), then ``volumeInstanceBackupRestore``, followed through its
workflow. Each mutation is sent once and never retried after an ambiguous answer; ``params`` records
every step, so a restart resumes where it stopped or says the outcome is unknown.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bot.dbops.backups import BackupMaker, Report
from bot.dbops.render import change_message
from bot.dbops.target import DbUnavailable, database_volume, db_service
from bot.railway.errors import RailwayError, RailwayServerError, RailwayTimeout
from bot.runtime import Runtime
from bot.store import actions


@dataclass(frozen=True)
class RestoreProgress:
    stage: str  # sent | waiting | restoring
    detail: dict = field(default_factory=dict)


class RestoreKind:
    action = "db_restore"
    typed_confirmation = True

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        settings = rt.settings
        self.poll_interval = settings.CHATOPS_FOLLOW_POLL_SECONDS
        self.timeout = settings.CHATOPS_FOLLOW_TIMEOUT_SECONDS
        self.maker = BackupMaker(rt, self.poll_interval, self.timeout)

    def message(self, req: actions.ActionRequest, lang: str, progress: Any) -> tuple[str, list[dict]]:
        return change_message(req, lang, progress)

    async def run(self, req: actions.ActionRequest, report: Report) -> None:
        fresh = await self.maker.make(req, req.params["volume_instance_id"], f"chatops before restore {req.id}",
                                      report, key="fresh")
        if fresh:
            await self._restore(req, report, fresh)

    async def resume(self, req: actions.ActionRequest, report: Report) -> None:
        p = req.params
        if "restore_workflow" in p:
            await self._follow(req, p["restore_workflow"] or None, report, p.get("fresh_id", ""))
        elif p.get("restore_sending"):
            await actions.finish(self.rt.store, req.id, succeeded=False, verdict="unknown", detail="")
        elif p.get("fresh_id"):
            await self._restore(req, report, p["fresh_id"])
        elif "fresh_workflow" in p:
            fresh = await self.maker.follow(req.id, p["volume_instance_id"], set(p.get("fresh_known", [])),
                                            p["fresh_workflow"] or None, report, key="fresh")
            if fresh:
                await self._restore(await actions.get(self.rt.store, req.id), report, fresh)
        elif p.get("fresh_sending"):
            await actions.finish(self.rt.store, req.id, succeeded=False, verdict="unknown", detail="")
        else:
            await self.run(req, report)

    async def _restore(self, req: actions.ActionRequest, report: Report, fresh: str) -> None:
        store, railway = self.rt.store, self.rt.railway
        volume, backup = req.params["volume_instance_id"], req.params["backup_id"]
        await actions.update_params(store, req.id, restore_sending=True)
        await actions.log_event(store, req.id, "railway.volumeInstanceBackupRestore.sent", data={"backup": backup})
        try:
            workflow = await railway.restore_backup(volume, backup)
        except (RailwayTimeout, RailwayServerError) as exc:
            self.maker.audit(req, "volumeInstanceBackupRestore", "error", str(exc), backup)
            await actions.finish(store, req.id, succeeded=False, verdict="ambiguous", detail=str(exc)[:300])
            return
        except RailwayError as exc:
            self.maker.audit(req, "volumeInstanceBackupRestore", "error", str(exc), backup)
            await actions.finish(store, req.id, succeeded=False, verdict="railway_error", detail=str(exc)[:300])
            return
        self.maker.audit(req, "volumeInstanceBackupRestore", "ok", "", backup)
        await actions.update_params(store, req.id, restore_workflow=workflow or "")
        await actions.log_event(store, req.id, "railway.volumeInstanceBackupRestore.result",
                                data={"workflow": workflow})
        await self._follow(req, workflow, report, fresh)

    async def _follow(self, req: actions.ActionRequest, workflow: str | None, report: Report, fresh: str) -> None:
        store = self.rt.store
        deadline = time.monotonic() + self.timeout
        reported = False
        while workflow:
            try:
                status, error = await self.rt.railway.workflow_status(workflow)
            except RailwayError as exc:
                await actions.finish(store, req.id, succeeded=False, verdict="railway_error", detail=str(exc)[:300])
                return
            if status == "Complete":
                break
            if status == "Error":
                await actions.finish(store, req.id, succeeded=False, verdict="workflow_error",
                                     detail=(error or "")[:300])
                return
            if time.monotonic() > deadline:
                await actions.finish(store, req.id, succeeded=False, verdict="timeout", detail="")
                return
            if not reported:  # one edit of the message, not one per poll (chat.update is rate-limited)
                reported = True
                await report(RestoreProgress("restoring"))
            await asyncio.sleep(self.poll_interval)
        await actions.log_event(store, req.id, "railway.restore.complete", data={"workflow": workflow})
        await actions.finish(store, req.id, succeeded=True, verdict="done", detail=fresh)


async def request_restore(rt: Runtime, flow, service_name: str, backup_id: str, *, user: str, channel: str,
                          lang: str, reason: str, tell=None) -> actions.ActionRequest:
    """Check the backup is one of this database's, then post the request (approved in a modal)."""
    service = db_service(rt.config, service_name)
    await flow.refuse_if_pending(service.name, RestoreKind.action)
    target = await database_volume(rt.railway, service)
    backup = next((b for b in await rt.railway.backups(target.volume.id) if b.id == backup_id), None)
    if backup is None:
        raise DbUnavailable("db.restore.no_backup", backup=backup_id, service=service.name)
    return await flow.request_change(RestoreKind.action, service.name, user=user, channel=channel, lang=lang,
                                     reason=reason, tell=tell, params={
                                         "volume_instance_id": target.volume.id,
                                         "database_service_id": target.database_ids.service_id,
                                         "backup_id": backup.id, "backup_name": backup.name or "",
                                         "backup_created_at": backup.created_at.isoformat()})
