"""``/incident publish [INC-n] <text>`` and the Approve / Reject buttons of a public update.

Kept apart from ``handlers/incident.py``, which only routes the ``publish`` verb here.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.action_ids import ActionId
from bot.slack.followup import schedule
from bot.store.incidents import Incident


async def publish(rt: Runtime, inc: Incident, user: str, text: str, lang: str, say) -> str:
    """The verb's work once the incident is known; the status page may be off."""
    flow = rt.extras.get("public_updates")
    if flow is None:
        await say(t("status.publish.not_enabled", lang))
        return "status_page_disabled"
    return await flow.draft(inc, user, text, lang, say)


def register(app: AsyncApp, rt: Runtime) -> None:
    def button(approve: bool):
        async def handler(ack, action, body, respond, context) -> None:
            await ack()
            lang = context["lang"]

            async def say(text: str) -> None:
                await respond(text=text, response_type="ephemeral", replace_original=False)

            value = action.get("value") or ""
            flow = rt.extras.get("public_updates")
            if not value.isdigit() or flow is None:
                rt.audit.outcome(context["correlation_id"], "usage", "bad public update id")
                await say(t("status.publish.unknown", lang))
                return
            user = body["user"]["id"]
            if not schedule(rt, context, respond, "public-update",
                            lambda: flow.decide(int(value), user, lang, say, approve=approve)):
                await say(t("common.busy", lang))
        return handler

    app.action(ActionId.PUBLIC_UPDATE_APPROVE)(button(approve=True))
    app.action(ActionId.PUBLIC_UPDATE_REJECT)(button(approve=False))
