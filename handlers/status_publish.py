"""The Approve / Reject buttons of a public update (``/incident publish`` drafts one; see ``bot.status.publish``)."""

from __future__ import annotations

from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.followup import schedule
from bot.slack.request import ephemeral
from bot.status.publish import PublicUpdates


class PublicUpdateHandlers:
    def __init__(self, rt: Runtime, updates: PublicUpdates) -> None:
        self.rt = rt
        self.updates = updates

    async def approve(self, ack, action, body, respond, context) -> None:
        await self._decide(ack, action, body, respond, context, approve=True)

    async def reject(self, ack, action, body, respond, context) -> None:
        await self._decide(ack, action, body, respond, context, approve=False)

    async def _decide(self, ack, action, body, respond, context, *, approve: bool) -> None:
        await ack()
        lang, say = context["lang"], ephemeral(respond)
        value = action.get("value") or ""
        if not value.isdigit() or not self.updates.enabled:
            self.rt.audit.outcome(context["correlation_id"], "usage", "bad public update id")
            await say(t("status.publish.unknown", lang))
            return
        user = body["user"]["id"]
        if not schedule(self.rt, context, respond, "public-update",
                        lambda: self.updates.decide(int(value), user, lang, say, approve=approve)):
            await say(t("common.busy", lang))
