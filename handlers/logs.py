"""``/logs <service> [text] [--since 30m] [--level …] [--deployment <id>] [--share]`` and its More button."""

from __future__ import annotations

from bot.common.errors import ChatopsError
from bot.i18n import t
from bot.logs.query import LogQuery, configured_service, parse, read
from bot.logs.render import logs_message
from bot.runtime import Runtime
from bot.slack.followup import schedule
from bot.slack.request import command_text, ephemeral


class LogsHandlers:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def command(self, ack, command, respond, context) -> None:
        ulang = context["user_lang"]
        try:
            query = parse(command_text(command, ulang))
            configured_service(self.rt.config, query.service)
        except ChatopsError as exc:
            self.rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        # A shared answer is read by the channel: the channel's language; a private one by its asker.
        lang = context["lang"] if query.share else ulang
        queued = schedule(self.rt, context, respond, "logs", lambda: self.show(query, respond, lang, replace=False))
        await ack(response_type="ephemeral",
                  text=t("logs.reading", ulang, service=query.service) if queued else t("common.busy", ulang))

    async def more(self, ack, action, respond, context) -> None:
        await ack()
        ulang = context["user_lang"]
        try:
            query = LogQuery.from_value(action.get("value") or "")
        except ChatopsError as exc:
            self.rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ephemeral(respond)(exc.message(ulang))
            return
        lang = context["lang"] if query.share else ulang
        if not schedule(self.rt, context, respond, "logs", lambda: self.show(query, respond, lang, replace=True)):
            await ephemeral(respond)(t("common.busy", ulang))

    async def show(self, query: LogQuery, respond, lang: str, *, replace: bool) -> str:
        window = await read(self.rt.railway, configured_service(self.rt.config, query.service), query)
        text, blocks = logs_message(window, lang)
        await respond(text=text, blocks=blocks, response_type="in_channel" if query.share else "ephemeral",
                      replace_original=replace)
        return "ok"
