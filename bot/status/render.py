"""The status page's public updates in Slack: the draft waiting for a second person, then its outcome."""

from __future__ import annotations

from bot.i18n import slack_escape, t
from bot.render.blocks import MAX_FALLBACK, actions, button, clip, confirm_dialog, context, section
from bot.slack.action_ids import ActionId
from bot.store.incidents import Incident
from bot.store.public_updates import PENDING, PublicUpdate


def draft_message(row: PublicUpdate, inc: Incident, public_name: str) -> tuple[str, list[dict]]:
    """The words exactly as the page will show them (quoted, escaped), with Approve/Reject while pending."""
    lang = inc.lang
    quoted = "\n".join(f"> {line}" for line in slack_escape(row.text).splitlines() or [""])
    head = t("status.publish.draft_head", lang, ref=inc.ref, user=row.drafted_by, component=slack_escape(public_name),
             phase=t(f"status.phase.{row.phase}", lang))
    blocks: list[dict] = [section(f"{head}\n{quoted}")]
    if row.status == PENDING:
        dialog = confirm_dialog(t("status.publish.confirm_title", lang), t("status.publish.confirm_text", lang),
                                t("status.publish.confirm_yes", lang), t("status.publish.confirm_no", lang))
        blocks.append(actions([
            button(t("status.publish.approve", lang), ActionId.PUBLIC_UPDATE_APPROVE, str(row.id), style="primary",
                   confirm=dialog),
            button(t("status.publish.reject", lang), ActionId.PUBLIC_UPDATE_REJECT, str(row.id))],
            f"public-update-{row.id}"))
        blocks.append(context(t("status.publish.rule", lang)))
    else:
        blocks.append(context(t(f"status.publish.done.{row.status}", lang, user=row.decided_by)))
    return clip(head, MAX_FALLBACK), blocks
