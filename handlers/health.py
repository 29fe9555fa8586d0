"""``/health [service|url]`` and the Re-check button: probe, store, report in the channel."""

from __future__ import annotations

import asyncio

from slack_bolt.async_app import AsyncApp

from bot.common.errors import ChatopsError
from bot.i18n import t
from bot.probe import Coalescer, probe_key, resolve_targets
from bot.render.health import health_message
from bot.runtime import Runtime
from bot.slack.action_ids import ActionId
from bot.slack.followup import schedule
from bot.slack.request import MAX_COMMAND_TEXT
from bot.store.probes import save_reports


def register(app: AsyncApp, rt: Runtime) -> None:
    coalescer = Coalescer()

    async def probe_and_report(targets, respond, lang: str, *, replace: bool) -> str:
        reports = await asyncio.gather(*(
            coalescer.run(probe_key(service, path), lambda s=service, p=path: rt.prober.probe_service(s, p))
            for service, path in targets))
        await save_reports(rt.store, reports, source="command")
        text, blocks = health_message(reports, lang)
        await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=replace)
        return "ok"

    @app.command("/health")
    async def health_command(ack, command, respond, context) -> None:
        lang, ulang = context["lang"], context["user_lang"]
        text = (command.get("text") or "").strip()
        if len(text) > MAX_COMMAND_TEXT:
            rt.audit.outcome(context["correlation_id"], "usage")
            await ack(response_type="ephemeral",
                      text=t("common.too_long", ulang, length=len(text), limit=MAX_COMMAND_TEXT))
            return
        try:
            targets = resolve_targets(text, rt.config, allow_any_url=False)
        except ChatopsError as exc:
            rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        queued = schedule(rt, context, respond, "health",
                          lambda: probe_and_report(targets, respond, lang, replace=False))
        checking = (t("health.ack_all", ulang) if len(targets) > 1
                    else t("health.ack_one", ulang, target=targets[0][0].name))
        await ack(response_type="ephemeral", text=checking if queued else t("common.busy", ulang))

    @app.action(ActionId.HEALTH_RECHECK)
    async def recheck(ack, action, respond, context) -> None:
        await ack()
        lang, ulang = context["lang"], context["user_lang"]
        value = action.get("value") or ""
        try:
            targets = resolve_targets("" if value == "*" else value, rt.config, allow_any_url=False)
        except ChatopsError as exc:
            rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await respond(text=exc.message(ulang), response_type="ephemeral", replace_original=False)
            return
        if not schedule(rt, context, respond, "health",
                        lambda: probe_and_report(targets, respond, lang, replace=True)):
            await respond(text=t("common.busy", ulang), response_type="ephemeral", replace_original=False)
