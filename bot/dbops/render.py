"""Block Kit for ``/db``: the backups list, and the request messages of database changes (backup,
cleanup, restore) in each state, with their progress."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.i18n import slack_escape, t
from bot.slack.action_ids import ActionId, ViewId
from bot.store.models import ActionRequest

MAX_LISTED = 10


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def backups_message(report: Any, lang: str) -> tuple[str, list[dict]]:
    """``report`` is a ``bot.dbops.backups.BackupsReport``."""
    now = report.now
    volume = report.target.volume
    blocks = [_header(t("db.backups.header", lang, service=report.service)),
              _context(t("db.backups.volume", lang, database=report.target.database_ids.service_id,
                         volume=volume.id, mount=volume.mount_path, size=round(volume.current_size_mb),
                         limit=volume.size_mb))]
    newest = report.newest
    if newest is not None:
        blocks.append(_section(t("db.backups.newest", lang, **_backup_vars(newest, now))))
    lines = [t("db.backups.line", lang, **_backup_vars(b, now)) for b in report.backups[:MAX_LISTED]]
    if len(report.backups) > MAX_LISTED:
        lines.append(t("db.backups.more", lang, n=len(report.backups) - MAX_LISTED))
    blocks.append(_section("\n".join(lines) or t("db.backups.none", lang)))
    schedules = [t("db.backups.schedule", lang, kind=t(f"db.schedule_kind.{s.kind}", lang), cron=s.cron,
                   kept=s.retention_seconds) for s in report.schedules]
    blocks.append(_section(t("db.backups.schedules", lang, lines="\n".join(schedules)) if schedules
                           else t("db.backups.no_schedules", lang)))
    warnings = [t(f"db.warn.{w}", lang, service=report.service,
                  age=(now - newest.created_at).total_seconds() if newest else None)
                for w in report.warnings]
    if warnings:
        blocks.append(_section("\n".join(warnings)))
    text = t("db.backups.fallback", lang, service=report.service, n=len(report.backups),
             age=(now - newest.created_at).total_seconds() if newest else None)
    return text, blocks


def migrations_message(report: Any, lang: str) -> tuple[str, list[dict]]:
    """``report`` is a ``bot.dbops.migrations.MigrationsReport``."""
    counts = {state: report.count(state) for state in ("applied", "failed", "rolled_back", "running")}
    blocks = [_header(t("db.migrations.header", lang, service=report.service)),
              _context(t("db.migrations.where", lang, where=report.where)),
              _section(t("db.migrations.counts", lang, pending=report.pending, found=report.found_in_deployment,
                         deployment=report.deployment_id or "", **counts))]
    lines = []
    for m in report.migrations[-MAX_LISTED:]:
        lines.append(t(f"db.migrations.line.{m.state}", lang, name=m.name, started=m.started_at,
                       finished=m.finished_at, steps=m.steps))
        if m.state == "failed" and m.log:
            lines.append(t("db.migrations.log", lang, log=m.log))
    if len(report.migrations) > MAX_LISTED:
        lines.insert(0, t("db.migrations.older", lang, n=len(report.migrations) - MAX_LISTED))
    blocks.append(_section("\n".join(lines) or t("db.migrations.none", lang)))
    if counts["failed"]:
        blocks.append(_section(t("db.migrations.failed_hint", lang)))
    text = t("db.migrations.fallback", lang, service=report.service, pending=report.pending, **counts)
    return text, blocks


def _backup_vars(backup: Any, now: datetime) -> dict:
    return {"id": backup.id, "name": backup.name or "", "created": backup.created_at,
            "age": (now - backup.created_at).total_seconds(), "size": backup.used_mb,
            "expires_in": (backup.expires_at - now).total_seconds() if backup.expires_at else None,
            "scheduled": bool(backup.schedule_id)}


def _what(req: ActionRequest, lang: str, now: datetime) -> list[str]:
    """What the change will do, from its params (the same facts the approver decides on)."""
    p = req.params or {}
    if req.action == "db_backup":
        return [t("db.change.what.db_backup", lang, database=p.get("database_service_id", ""),
                  volume=p.get("volume_instance_id", ""), size=round(p.get("size_mb") or 0))]
    if req.action == "db_cleanup":
        return [t("db.change.what.db_cleanup", lang, target=p.get("target", ""), statement=p.get("statement", ""),
                  rows=p.get("rows", 0), table_size=p.get("table_size", ""), cutoff=_when(p.get("cutoff")),
                  batch=p.get("batch_rows", 0))]
    if req.action == "db_restore":
        created = _when(p.get("backup_created_at"))
        return [t("db.change.what.db_restore", lang, backup=p.get("backup_id", ""), name=p.get("backup_name") or "",
                  created=created, lost=(now - created).total_seconds() if created else None,
                  database=p.get("database_service_id", ""), service=req.service)]
    return []


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def change_message(req: ActionRequest, lang: str, progress: Any = None,
                   now: datetime | None = None) -> tuple[str, list[dict]]:
    """A database change's request message in its current state."""
    now = now or datetime.now(UTC)
    blocks: list[dict] = [_header(t(f"db.change.header.{req.action}", lang, service=req.service))]
    blocks += [_section(line) for line in _what(req, lang, now)]
    blocks.append(_context(t("rollback.requested_by", lang, user=req.requested_by, reason=req.reason,
                             expires=req.expires_at, request_id=req.id)))
    status = _status_line(req, lang, progress)
    if status:
        blocks.append(_section(status))
    if req.status == "pending":
        blocks.append(_buttons(req, lang))
    text = t("db.change.fallback", lang, action=t(f"db.change.name.{req.action}", lang), service=req.service,
             status=t(f"rollback.status.{req.status}", lang))
    if status:
        text = f"{text}\n{status}"
    return text, blocks


def _buttons(req: ActionRequest, lang: str) -> dict:
    approve: dict = {"type": "button", "style": "primary", "value": req.id,
                     "text": {"type": "plain_text", "text": t(f"db.change.approve.{req.action}", lang)[:75]}}
    if req.action == "db_restore":  # approved in a modal where the approver types the service's name
        approve["action_id"] = ActionId.DB_RESTORE_APPROVE.value
    else:
        approve["action_id"] = ActionId.ROLLBACK_APPROVE.value
        approve["confirm"] = {
            "title": {"type": "plain_text", "text": t(f"db.change.approve.{req.action}", lang)[:100]},
            "text": {"type": "mrkdwn", "text": t(f"db.change.confirm.{req.action}", lang, service=req.service)[:300]},
            "confirm": {"type": "plain_text", "text": t("db.change.confirm_yes", lang)[:30]},
            "deny": {"type": "plain_text", "text": t("rollback.confirm_no", lang)[:30]},
            "style": "danger"}
    return {"type": "actions", "block_id": f"db-{req.id}", "elements": [
        approve,
        {"type": "button", "action_id": ActionId.ROLLBACK_REJECT.value, "style": "danger", "value": req.id,
         "text": {"type": "plain_text", "text": t("rollback.reject", lang)[:75]}}]}


def _status_line(req: ActionRequest, lang: str, progress: Any) -> str:
    if req.status == "pending":
        return ""
    if req.status == "rejected":
        return t("rollback.rejected", lang, user=req.decided_by, note=req.decision_note)
    if req.status == "expired":
        return t("db.change.expired", lang)
    if req.status == "interrupted":
        return t("db.change.interrupted", lang, detail=req.detail)
    approved = t("rollback.approved", lang, user=req.decided_by)
    p = req.params or {}
    if req.status in ("approved", "running"):
        stage = getattr(progress, "stage", None)
        if stage:
            return approved + "\n" + t(f"db.progress.{stage}", lang, **getattr(progress, "detail", {}))
        return approved + "\n" + t(f"db.change.in_progress.{req.action}", lang)
    if req.status == "succeeded":
        done = f"db.change.done.{req.action}" + ("_accepted" if req.verdict == "accepted" else "")
        return approved + "\n" + t(done, lang, detail=req.detail, deleted=p.get("deleted", 0),
                                   batches=p.get("batches", 0), backup=p.get("backup_id", ""))
    return approved + "\n" + t(f"db.failed.{req.verdict or 'error'}", lang, detail=slack_escape(req.detail),
                               deleted=p.get("deleted", 0), rows=p.get("rows", 0), name=p.get("watched_name", ""),
                               waited=p.get("watched_seconds"), fresh=p.get("fresh_id", ""),
                               restore=req.action == "db_restore", cleanup=req.action == "db_cleanup")


CONFIRM_BLOCK, CONFIRM_INPUT = "confirm", "service"


def restore_modal(req: ActionRequest, lang: str, channel: str) -> dict:
    """The approver's confirmation: what will be lost, and a field where they type the service's name.
    ``private_metadata`` carries what the submission needs without a database read before its ack."""
    metadata = json.dumps({"r": req.id, "s": req.service, "c": channel}, separators=(",", ":"))
    return {
        "type": "modal", "callback_id": ViewId.DB_RESTORE_CONFIRM.value, "private_metadata": metadata,
        "title": {"type": "plain_text", "text": t("db.restore.modal_title", lang)[:24]},
        "submit": {"type": "plain_text", "text": t("db.restore.modal_submit", lang)[:24]},
        "close": {"type": "plain_text", "text": t("rollback.confirm_no", lang)[:24]},
        "blocks": [_section(line) for line in _what(req, lang, datetime.now(UTC))] + [
            {"type": "input", "block_id": CONFIRM_BLOCK,
             "label": {"type": "plain_text", "text": t("db.restore.modal_label", lang, service=req.service)[:2000]},
             "element": {"type": "plain_text_input", "action_id": CONFIRM_INPUT}}],
    }
