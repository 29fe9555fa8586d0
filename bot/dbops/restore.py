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

from bot.changes.holding import fence
from bot.dbops.backups import UNANSWERED, BackupMaker, Report
from bot.dbops.claim import claim
from bot.dbops.render import change_message
from bot.dbops.target import DbUnavailable, database_volume, db_service
from bot.railway.errors import RailwayError, RailwayServerError, RailwayTimeout
from bot.runtime import Runtime
from bot.store import actions

RESTORE = "volumeInstanceBackupRestore"


@dataclass(frozen=True)
class RestoreProgress:
    stage: str  # sent | waiting | restoring
    detail: dict = field(default_factory=dict)


class RestoreKind:
    action = "db_restore"
    typed_confirmation = True

    def __init__(self, rt: Runtime, holder: str) -> None:
        self.rt = rt
        self.holder = holder
        settings = rt.settings
        self.poll_interval = settings.CHATOPS_FOLLOW_POLL_SECONDS
        self.timeout = settings.CHATOPS_FOLLOW_TIMEOUT_SECONDS
        self.maker = BackupMaker(rt, self.poll_interval, self.timeout)

    def message(self, req: actions.ActionRequest, lang: str, progress: Any) -> tuple[str, list[dict]]:
        return change_message(req, lang, progress)

    async def run(self, req: actions.ActionRequest, report: Report) -> None:
        async with claim(self.rt, req.id, self.holder, resumed=False) as held:
            if held:
                await self._start(held.request, report)

    async def resume(self, req: actions.ActionRequest, report: Report, *, announce: bool = True) -> None:
        async with claim(self.rt, req.id, self.holder, resumed=announce) as held:
            if held:
                await self._carry_on(held.request, report)

    async def _start(self, req: actions.ActionRequest, report: Report) -> None:
        fresh = await self.maker.make(req, req.params["volume_instance_id"], report, key="fresh")
        if fresh:
            await self._restore(req, report, fresh)

    async def _carry_on(self, req: actions.ActionRequest, report: Report) -> None:
        """Carry on from the last step whose outcome is recorded. A restore sent without a recorded
        answer is never sent again (nor is a second fresh backup taken): it ends as unknown."""
        p = req.params
        if "restore_workflow" in p:
            await self._follow(req, p["restore_workflow"] or None, report, p.get("fresh_id", ""))
        elif p.get("restore_sending"):
            self.maker.audit(req, RESTORE, "unanswered", f"{UNANSWERED}; not sent again", p["backup_id"])
            await actions.log_event(self.rt.store, req.id, f"railway.{RESTORE}.unanswered", data={"restart": True})
            await self._end(req, "restore_unknown", p.get("fresh_id", ""))
        elif p.get("fresh_id"):
            await self._restore(req, report, p["fresh_id"])
        elif "fresh_workflow" in p:
            fresh = await self.maker.follow(req.id, p["volume_instance_id"], set(p.get("fresh_known", [])),
                                            p["fresh_workflow"] or None, report, key="fresh")
            if fresh:
                await self._restore(req, report, fresh)
        elif p.get("fresh_sending"):
            fresh = await self.maker.recover(req, p["volume_instance_id"], report, key="fresh")
            if fresh:
                await self._restore(req, report, fresh)
        else:
            await self._start(req, report)

    async def _restore(self, req: actions.ActionRequest, report: Report, fresh: str) -> None:
        store, railway = self.rt.store, self.rt.railway
        volume, backup = req.params["volume_instance_id"], req.params["backup_id"]
        await actions.update_params(store, req.id, fence=fence(), restore_sending=True,
                                    event=(f"railway.{RESTORE}.sent", {"backup": backup}))
        try:
            workflow = await railway.restore_backup(volume, backup)
        except (RailwayTimeout, RailwayServerError) as exc:
            self.maker.audit(req, RESTORE, "error", str(exc), backup)
            await self._end(req, "restore_ambiguous" if exc.ambiguous else "railway_error", str(exc))
            return
        except RailwayError as exc:
            self.maker.audit(req, RESTORE, "error", str(exc), backup)
            await self._end(req, "railway_error", str(exc))
            return
        self.maker.audit(req, RESTORE, "ok", "", backup)
        await actions.update_params(store, req.id, restore_workflow=workflow or "",
                                    event=(f"railway.{RESTORE}.result", {"workflow": workflow}))
        await self._follow(req, workflow, report, fresh)

    async def _follow(self, req: actions.ActionRequest, workflow: str | None, report: Report, fresh: str) -> None:
        """Follow the restore's workflow to its end. Without a workflow id (Railway's ``WorkflowId.workflowId``
        is nullable) the bot only knows Railway accepted it, and says no more."""
        store = self.rt.store
        if not workflow:
            await actions.finish(store, req.id, succeeded=True, verdict="accepted", detail=fresh)
            return
        deadline = time.monotonic() + self.timeout
        reported = False
        while True:
            try:
                status, error = await self.rt.railway.workflow_status(workflow)
            except RailwayError as exc:  # the restore was sent and may be running: how it ends is unknown
                await self._end(req, "restore_untracked", str(exc))
                return
            if status == "Complete":
                break
            if status == "Error":
                await self._end(req, "restore_workflow_error", error or "")
                return
            if status == "NotFound":  # Railway no longer knows it: how it ended cannot be read
                await self._end(req, "restore_untracked", workflow)
                return
            if time.monotonic() > deadline:
                await self._end(req, "restore_timeout", "")
                return
            if not reported:  # one edit of the message, not one per poll (chat.update is rate-limited)
                reported = True
                await report(RestoreProgress("restoring"))
            await asyncio.sleep(self.poll_interval)
        await actions.log_event(store, req.id, "railway.restore.complete", data={"workflow": workflow})
        await actions.finish(store, req.id, succeeded=True, verdict="done", detail=fresh)

    async def _end(self, req: actions.ActionRequest, verdict: str, detail: str) -> None:
        await actions.finish(self.rt.store, req.id, succeeded=False, verdict=verdict, detail=detail[:300])


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
