"""The App Home tab: ``app_home_opened`` (Events API or Socket Mode) and its Approve / Reject buttons."""

from __future__ import annotations

from bot.common.jobs import QueueFull
from bot.home.service import HomeTab
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.followup import schedule


class HomeHandlers:
    def __init__(self, rt: Runtime, home: HomeTab) -> None:
        self.rt = rt
        self.home = home

    async def opened(self, ack, event, context) -> None:
        """Publish this person's Home tab after the ack (Slack sends the event for the Messages tab too)."""
        await ack()
        user = event.get("user")
        if event.get("tab") != "home" or not user:
            self.rt.audit.outcome(context["correlation_id"], "ignored")
            return
        self.home.opened(user)
        cid = context["correlation_id"]

        async def publish() -> None:
            self.rt.audit.outcome(cid, "published" if await self.home.publish(user) else "failed")

        try:
            self.rt.jobs.submit("home", publish)
        except QueueFull:
            self.rt.audit.outcome(cid, "busy")

    async def approve(self, ack, action, body, context) -> None:
        await self._decide(ack, action, body, context, reject=False)

    async def reject(self, ack, action, body, context) -> None:
        await self._decide(ack, action, body, context, reject=True)

    async def _decide(self, ack, action, body, context, *, reject: bool) -> None:
        """The same decision as a channel's buttons (``RollbackFlow.decide``: rules, exactly once); a view
        has no response_url, so what the person is told appears at the top of their Home tab."""
        await ack()
        user = body["user"]["id"]
        request_id = action.get("value") or ""

        async def tell_on_home(text: str, **_fields) -> None:
            self.home.notify(user, text)
            await self.home.publish(user)

        if not schedule(self.rt, context, tell_on_home, "home-decision",
                        lambda: self.home.decide(request_id, user, reject=reject)):
            self.home.notify(user, t("common.busy", context["user_lang"]))
            self.rt.spawn(f"home-busy-{user}", self.home.publish(user))
