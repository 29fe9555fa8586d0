"""Block Kit for rollback requests, their progress and their verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.changes.runner import Progress
from bot.i18n import t
from bot.railway.models import Deployment
from bot.render.blocks import actions, button, confirm_dialog, context, header, section
from bot.slack.action_ids import ActionId
from bot.store.models import ActionRequest


def _deployment_line(dep: dict, lang: str, now: datetime) -> str:
    if not dep:
        return t("rollback.none", lang)
    created = datetime.fromisoformat(dep["created_at"]) if dep.get("created_at") else None
    age = (now - created).total_seconds() if created else None
    return t("rollback.deployment_line", lang, id=dep["id"], commit=(dep.get("commit_hash") or "")[:7],
             message=(dep.get("commit_message") or "").splitlines()[0][:80] if dep.get("commit_message") else "",
             age=age, status=dep.get("status") or "")


def rollback_message(req: ActionRequest, lang: str, progress: Progress | None = None,
                     now: datetime | None = None) -> tuple[str, list[dict]]:
    """The request message in its current state (pending, decided, running, finished)."""
    now = now or datetime.now(UTC)
    blocks: list[dict] = [
        header(t(f"rollback.header.{req.action}", lang, service=req.service)),
        section(t("rollback.current", lang, line=_deployment_line(req.current_deployment, lang, now))),
    ]
    if req.action == "rollback":
        blocks.append(section(t("rollback.target", lang, line=_deployment_line(req.target_deployment, lang, now))))
    blocks += [
        context(t("rollback.requested_by", lang, user=req.requested_by, reason=req.reason,
                   expires=req.expires_at, request_id=req.id)),
    ]
    status_line = _status_line(req, lang, progress)
    if status_line:
        blocks.append(section(status_line))
    if req.status == "pending":
        dialog = confirm_dialog(t(f"rollback.confirm_title.{req.action}", lang),
                                t(f"rollback.confirm_text.{req.action}", lang, service=req.service,
                                  target=req.target_deployment.get("id", "")),
                                t(f"rollback.confirm_yes.{req.action}", lang), t("rollback.confirm_no", lang),
                                style="danger")
        blocks.append(actions([
            button(t(f"rollback.approve.{req.action}", lang), ActionId.ROLLBACK_APPROVE, req.id, style="primary",
                   confirm=dialog),
            button(t("rollback.reject", lang), ActionId.ROLLBACK_REJECT, req.id, style="danger"),
        ], f"rollback-{req.id}"))
    text = t(f"rollback.fallback.{req.action}", lang, service=req.service,
             status=t(f"rollback.status.{req.status}", lang),
             target=req.target_deployment.get("id", ""))
    if status_line:  # the fallback (notifications, a thread reply when an update fails) says what happened
        text = f"{text}\n{status_line}"
    return text, blocks


def _status_line(req: ActionRequest, lang: str, progress: Progress | None) -> str:
    if req.status == "pending":
        return ""
    if req.status == "rejected":
        return t("rollback.rejected", lang, user=req.decided_by, note=req.decision_note)
    if req.status == "expired":
        return t("rollback.expired", lang)
    if req.status == "interrupted":
        return t("rollback.interrupted", lang, detail=req.detail)
    approved = t("rollback.approved", lang, user=req.decided_by)
    if req.status in ("approved", "running"):
        if progress and progress.stage == "deploying":
            return approved + "\n" + t("rollback.deploying", lang, status=progress.status,
                                       deployment=progress.deployment_id)
        if progress and progress.stage == "verifying":
            return approved + "\n" + t("rollback.verifying", lang, deployment=progress.deployment_id)
        return approved + "\n" + t(f"rollback.in_progress.{req.action}", lang)
    if req.verdict == "healthy":
        return approved + "\n" + t(f"rollback.done_healthy.{req.action}", lang, deployment=req.new_deployment_id,
                                   detail=req.detail)
    if req.verdict == "unhealthy":
        next_step = progress.next_step if progress else None
        return approved + "\n" + t(f"rollback.done_unhealthy.{req.action}", lang, deployment=req.new_deployment_id,
                                   detail=req.detail, next_step=next_step, service=req.service)
    return approved + "\n" + t(f"rollback.failed.{req.verdict}", lang, detail=req.detail,
                               deployment=req.new_deployment_id)


def deployments_message(service: str, deployments: Sequence[Deployment], current_id: str | None, lang: str,
                        now: datetime | None = None) -> tuple[str, list[dict]]:
    now = now or datetime.now(UTC)
    lines = [
        t("rollback.list_line", lang, id=d.id, status=d.status, commit=(d.commit_hash or "")[:7],
          message=(d.commit_message or "").splitlines()[0][:60] if d.commit_message else "",
          age=(now - d.created_at).total_seconds(), current=d.id == current_id, can_rollback=d.can_rollback)
        for d in deployments[:10]
    ]
    text = t("rollback.list_header", lang, service=service)
    return text, [section(text), section("\n".join(lines) or t("rollback.none", lang))]
