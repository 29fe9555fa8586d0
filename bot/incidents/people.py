"""The people side of an incident: who leads it, how severe it is, who is paged, and when the next
update is due.

Escalation: a SEV1/SEV2 nobody has acknowledged pages the ``[incidents] oncall`` list in order, one
person per ``escalate_after_minutes``, by direct message (the summary and an Acknowledge button);
acknowledging stops it. Cadence: when "Next update by" passes with no update, a reminder in the
incident's channel mentions the commander (or the responders). Every replica runs ``run``; each page
and each reminder is claimed by one guarded UPDATE, so the database decides who sends it, once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.incidents.policy import UPDATE_CADENCE, next_update_by
from bot.incidents.render import page_message, reminder_text
from bot.incidents.service import Incidents
from bot.runtime import Runtime
from bot.slack import post as slack_messages
from bot.store import incidents as store
from bot.store.incidents import Incident
from bot.store.models import utcnow

logger = logging.getLogger(__name__)

ESCALATING = ("sev1", "sev2")
MAX_TICK = 15.0


class IncidentPeople:
    def __init__(self, rt: Runtime, incidents: Incidents) -> None:
        self.rt = rt
        self.incidents = incidents

    @property
    def escalate_after(self) -> timedelta:
        return timedelta(minutes=self.rt.config.incidents.escalate_after_minutes)

    @property
    def tick_seconds(self) -> float:
        """A third of the escalation delay (so a page is at most that late), at most 15 s."""
        return max(0.05, min(MAX_TICK, self.escalate_after.total_seconds() / 3))

    async def run(self) -> None:
        """Forever, on every replica: page whoever is due, remind whoever owes an update."""
        while True:
            await asyncio.sleep(self.tick_seconds)
            for chore in (self.escalate_due, self.remind_due):
                try:
                    await chore()
                except Exception:  # the database or Slack is away: try again next tick
                    logger.exception("%s failed", chore.__name__)

    # ---- roles -------------------------------------------------------------------------------------------

    async def lead(self, incident_id: int, user: str, *, actor: str) -> bool:
        change = await store.set_commander(self.rt.store, incident_id, user, actor=actor)
        if change.won:
            await self.incidents.refresh(incident_id)
        return change.won

    async def set_severity(self, incident_id: int, severity: str, *, actor: str) -> bool:
        change = await store.set_severity(self.rt.store, incident_id, severity, actor=actor)
        if change.won:
            await self.incidents.refresh(incident_id)
        return change.won

    # ---- paging ------------------------------------------------------------------------------------------

    async def page(self, incident_id: int, user: str, *, actor: str) -> bool:
        """``/incident page @user``: a direct message now, on the timeline whether or not it arrives."""
        inc = await store.get(self.rt.store, incident_id)
        if inc is None or not inc.is_open:
            return False
        await store.add_event(self.rt.store, incident_id, "paged", actor=actor, data={"user": user})
        delivered = await self._send_page(inc, user, paged_by=actor)
        await self.incidents.refresh(incident_id)
        return delivered

    async def escalate_due(self) -> None:
        """Page the next on-call person for each SEV1/SEV2 unacknowledged for ``escalate_after_minutes``."""
        oncall = self.rt.config.incidents.oncall
        if not oncall:
            return
        now = utcnow()
        for inc in await store.open_incidents(self.rt.store):
            if inc.acknowledged_at or inc.severity not in ESCALATING or inc.pages_sent >= len(oncall):
                continue
            if now - (inc.last_paged_at or inc.declared_at) < self.escalate_after:
                continue
            user = oncall[inc.pages_sent]
            change = await store.claim_page(self.rt.store, inc.id, sent=inc.pages_sent, user=user)
            if change.won:
                await self._send_page(change.incident, user, paged_by=None)
                await self.incidents.refresh(inc.id)

    async def _send_page(self, inc: Incident, user: str, *, paged_by: str | None) -> bool:
        """conversations.open, then chat.postMessage in that DM; a failure goes on the timeline."""
        try:
            dm = (await self.rt.slack.conversations_open(users=user))["channel"]["id"]
        except Exception as exc:
            error = _slack_error(exc)
            logger.error("could not open a DM to page %s: %s", user, error)
            await store.add_event(self.rt.store, inc.id, "page_failed", data={"user": user, "error": str(error)})
            return False
        view = await self.incidents.view(inc.id)
        text, blocks = page_message(view, paged_by=paged_by,
                                    channel=inc.channel_id if inc.channel_id and not inc.thread_ts else None)
        if await slack_messages.post(self.rt, dm, text, blocks, what="incident.page", subject=inc.ref) is None:
            await store.add_event(self.rt.store, inc.id, "page_failed",
                                  data={"user": user, "error": "chat.postMessage"})
            return False
        return True

    # ---- cadence -----------------------------------------------------------------------------------------

    async def remind_due(self) -> None:
        """"Next update by" has passed with no update: remind the commander (or the responders) once."""
        now = utcnow()
        for inc in await store.open_incidents(self.rt.store):
            if not inc.channel_id:
                continue
            due = next_update_by(inc.severity, inc.updated_at)
            if now < due:
                continue
            quiet_since = now - UPDATE_CADENCE.get(inc.severity, UPDATE_CADENCE["sev2"])
            change = await store.claim_reminder(self.rt.store, inc.id, severity=inc.severity, quiet_since=quiet_since)
            if not change.won:
                continue
            people = [inc.commander] if inc.commander else await self.incidents.responders()
            mentions = [f"<@{u}>" for u in people if u]
            await self.incidents.post_for(inc, "incident.reminder", inc.channel_id,
                                          reminder_text(inc, now, due, mentions), thread_ts=inc.thread_ts)
            await self.incidents.refresh(inc.id)


def _slack_error(exc: Exception) -> str:
    """Slack's error code when it answered one (``user_not_found``…), else what went wrong."""
    data = getattr(getattr(exc, "response", None), "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return type(exc).__name__
