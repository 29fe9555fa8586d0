"""``/logs <service> [text] [--since 30m] [--level …] [--deployment <id>] [--share]`` and its More button."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.common.errors import ChatopsError
from bot.i18n import t
from bot.logs.query import LogQuery, configured_service, parse, read
from bot.render.logs import logs_message
from bot.runtime import Runtime
from bot.slack.action_ids import ActionId
from bot.slack.followup import schedule
from bot.slack.request import MAX_COMMAND_TEXT


def register(app: AsyncApp, rt: Runtime) -> None:
    async def show(query: LogQuery, respond, lang: str, *, replace: bool) -> str:
        window = await read(rt.railway, configured_service(rt.config, query.service), query)
        text, blocks = logs_message(window, lang)
        await respond(text=text, blocks=blocks, response_type="in_channel" if query.share else "ephemeral",
                      replace_original=replace)
        return "ok"

    @app.command("/logs")
    async def logs_command(ack, command, respond, context) -> None:
        ulang = context["user_lang"]
        text = (command.get("text") or "").strip()
        try:
            if len(text) > MAX_COMMAND_TEXT:
                raise ChatopsError(t("common.too_long", ulang, length=len(text), limit=MAX_COMMAND_TEXT))
            query = parse(text)
            configured_service(rt.config, query.service)
        except ChatopsError as exc:
            rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        # A shared answer is read by the channel: the channel's language; a private one by its asker.
        lang = context["lang"] if query.share else ulang
        queued = schedule(rt, context, respond, "logs", lambda: show(query, respond, lang, replace=False))
        await ack(response_type="ephemeral",
                  text=t("logs.reading", ulang, service=query.service) if queued else t("common.busy", ulang))

    @app.action(ActionId.LOGS_MORE)
    async def more(ack, action, respond, context) -> None:
        await ack()
        ulang = context["user_lang"]
        try:
            query = LogQuery.from_value(action.get("value") or "")
        except ChatopsError as exc:
            rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await respond(text=exc.message(ulang), response_type="ephemeral", replace_original=False)
            return
        lang = context["lang"] if query.share else ulang
        if not schedule(rt, context, respond, "logs", lambda: show(query, respond, lang, replace=True)):
            await respond(text=t("common.busy", ulang), response_type="ephemeral", replace_original=False)
