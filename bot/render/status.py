"""The status page's public updates in Slack: the draft waiting for a second person, then its outcome."""

from __future__ import annotations

from bot.i18n import slack_escape, t
from bot.render.incident import MAX_TEXT, _button, _clip, _context, _section
from bot.slack.action_ids import ActionId
from bot.store.incidents import Incident
from bot.store.public_updates import PENDING, PublicUpdate


def draft_message(row: PublicUpdate, inc: Incident, public_name: str) -> tuple[str, list[dict]]:
    """The words exactly as the page will show them (quoted, escaped), with Approve/Reject while pending."""
    lang = inc.lang
    quoted = "\n".join(f"> {line}" for line in slack_escape(row.text).splitlines() or [""])
    head = t("status.publish.draft_head", lang, ref=inc.ref, user=row.drafted_by, component=slack_escape(public_name),
             phase=t(f"status.phase.{row.phase}", lang))
    blocks: list[dict] = [_section(f"{head}\n{quoted}")]
    if row.status == PENDING:
        blocks.append({"type": "actions", "block_id": f"public-update-{row.id}", "elements": [
            _button(t("status.publish.approve", lang), ActionId.PUBLIC_UPDATE_APPROVE, str(row.id), style="primary",
                    confirm=_confirm(lang)),
            _button(t("status.publish.reject", lang), ActionId.PUBLIC_UPDATE_REJECT, str(row.id))]})
        blocks.append(_context(t("status.publish.rule", lang)))
    else:
        blocks.append(_context(t(f"status.publish.done.{row.status}", lang, user=row.decided_by)))
    return _clip(head, MAX_TEXT), blocks


def _confirm(lang: str) -> dict:
    return {"title": {"type": "plain_text", "text": _clip(t("status.publish.confirm_title", lang), 100)},
            "text": {"type": "mrkdwn", "text": _clip(t("status.publish.confirm_text", lang), 300)},
            "confirm": {"type": "plain_text", "text": _clip(t("status.publish.confirm_yes", lang), 30)},
            "deny": {"type": "plain_text", "text": _clip(t("status.publish.confirm_no", lang), 30)}}
