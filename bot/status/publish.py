"""Public updates: ``/incident publish <text>`` drafts one, a second person approves it, then the status
page shows it. Nothing reaches the page otherwise.

The draft is posted in the incident (its channel, or its thread) with Approve and Reject buttons.
Approving follows the two-person rule of ``[approvals]`` (an approver, and never the person who wrote
it, whatever ``allow_self_approval`` says: a public statement always gets a second reader); the
database decides which click wins (``bot.store.public_updates``). Every click is audited by the
Slack layer; the decision also goes on the incident's timeline.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from bot.changes.approvers import ApproverDirectory
from bot.i18n import t
from bot.incidents.policy import clean
from bot.incidents.service import Incidents
from bot.runtime import Runtime
from bot.slack import post as slack_messages
from bot.status.render import draft_message
from bot.store import incidents as incident_store
from bot.store import public_updates as updates
from bot.store.incidents import Incident

MAX_TEXT = 1000
# Slack markup (mentions, channel links, links) names people and internals: never on a public page.
_SLACK_MARKUP = re.compile(r"<[@#!][^>]*>|<https?://[^>]*>")

Tell = Callable[[str], Awaitable[None]]


class PublicUpdates:
    def __init__(self, rt: Runtime, incidents: Incidents) -> None:
        self.rt = rt
        self.incidents = incidents
        self.directory = ApproverDirectory(rt)

    @property
    def enabled(self) -> bool:
        return self.rt.config.status_page.enabled

    def shown(self, inc: Incident) -> bool:
        return inc.service in self.rt.config.status_page.services

    async def draft(self, inc: Incident, user: str, text: str, lang: str, tell: Tell) -> str:
        """Store the draft and post it for approval; returns the audit outcome."""
        if not self.enabled:
            await tell(t("status.publish.not_enabled", lang))
            return "status_page_disabled"
        if not self.shown(inc):
            await tell(t("status.publish.not_shown", lang, service=inc.service))
            return "not_shown"
        if _SLACK_MARKUP.search(text):
            await tell(t("status.publish.no_markup", lang))
            return "refused_markup"
        if len(text.strip()) > MAX_TEXT:
            await tell(t("status.publish.too_long", lang, limit=MAX_TEXT, length=len(text.strip())))
            return "too_long"
        # The command's text was unescaped once on the way in (command_text); the page escapes for HTML itself.
        words = clean(text.strip(), MAX_TEXT)
        row = await updates.draft(self.rt.store, inc, text=words, user=user, lang=inc.lang)
        channel = inc.channel_id
        message_text, blocks = draft_message(row, inc, self._public_name(inc))
        # Only where the incident's people look: a draft is withdrawn (and its writer told) rather than moved.
        posted = await self.incidents.post_for(inc, "status.draft", channel, message_text, blocks,
                                               thread_ts=inc.thread_ts, move=False) if channel else None
        if not posted:  # nobody could approve a draft nobody sees: close it rather than leave it pending
            await updates.reject(self.rt.store, row.id, self.incidents.bot_actor)
            await tell(t("status.publish.not_posted", lang, ref=inc.ref))
            return "not_posted"
        await updates.set_message(self.rt.store, row.id, posted.channel or channel, posted.ts)
        await self.incidents.refresh(inc.id)
        await tell(t("status.publish.drafted", lang, ref=inc.ref, channel=None if inc.thread_ts else channel))
        return "drafted"

    async def decide(self, update_id: int, user: str, lang: str, tell: Tell, *, approve: bool) -> str:
        """One click on Approve or Reject; returns the audit outcome."""
        row = await updates.get(self.rt.store, update_id)
        if row is None:
            await tell(t("status.publish.unknown", lang))
            return "unknown"
        if row.status != updates.PENDING:
            await tell(t("status.publish.already", lang, status=t(f"status.publish.status.{row.status}", lang),
                         user=row.decided_by))
            return "already_decided"
        rules = self.rt.config.approvals
        if approve and user == row.drafted_by:
            await tell(t("status.publish.self", lang))
            return "refused_self"
        may_decide = await self.directory.may_approve(rules, user)
        if not may_decide and not (not approve and user == row.drafted_by):  # the writer may withdraw it
            await tell(t("status.publish.not_approver", lang))
            return "refused_not_approver"
        decision = await (updates.publish(self.rt.store, update_id, user) if approve
                          else updates.reject(self.rt.store, update_id, user))
        row = decision.update
        if not decision.won:
            await tell(t("status.publish.already", lang, status=t(f"status.publish.status.{row.status}", lang),
                         user=row.decided_by))
            return "already_decided"
        inc = await incident_store.get(self.rt.store, row.incident_id)
        if row.channel_id and row.message_ts and inc is not None:
            text, blocks = draft_message(row, inc, self._public_name(inc))
            await slack_messages.update(self.rt, row.channel_id, row.message_ts, text, blocks, what="status.draft",
                                        subject=inc.ref, elsewhere=self.incidents.other_place(inc, row.channel_id))
        await self.incidents.refresh(row.incident_id)
        return "published" if approve else "rejected"

    def _public_name(self, inc: Incident) -> str:
        return self.rt.config.status_page.services.get(inc.service, inc.service)
