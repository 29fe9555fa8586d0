"""``/diagnose <db|cors|jwt|memory|all> <service>`` and the Diagnose button: run playbooks, post findings."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.i18n import t
from bot.render.diagnose import diagnose_message
from bot.runtime import Runtime
from bot.slack.action_ids import ActionId
from bot.slack.followup import schedule
from playbooks.base import PlaybookContext
from playbooks.registry import ALL, playbook_names, run_playbooks


def register(app: AsyncApp, rt: Runtime) -> None:
    def usage_problem(name: str, service_name: str, lang: str) -> str | None:
        choices = [*playbook_names(), ALL]
        if not name or not service_name:
            return t("diagnose_slack.usage", lang, playbooks=" | ".join(choices))
        if name not in choices:
            return t("diagnose_slack.unknown_playbook", lang, name=name, playbooks=", ".join(choices))
        if rt.config.service(service_name) is None:
            return t("common.unknown_service", lang, name=service_name, known=", ".join(rt.config.service_names))
        return None

    async def diagnose(name: str, service_name: str, lang: str, respond) -> str:
        ctx = PlaybookContext(service=rt.config.service(service_name), services=rt.config, http=rt.http,
                              railway=rt.railway, lang=lang, store=rt.store)
        findings = await run_playbooks(name, ctx)
        text, blocks = diagnose_message(service_name, findings, lang)
        await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=False)
        return "ok" if all(f.verdict == "ok" for f in findings) else "findings"

    @app.command("/diagnose")
    async def diagnose_command(ack, command, respond, context) -> None:
        ulang = context["user_lang"]
        words = (command.get("text") or "").split()
        name, service_name = [*words, "", ""][:2]
        name = name.lower()
        problem = (usage_problem(name, service_name, ulang) if len(words) <= 2
                   else t("diagnose_slack.usage", ulang, playbooks=" | ".join([*playbook_names(), ALL])))
        if problem:
            rt.audit.outcome(context["correlation_id"], "usage", problem)
            await ack(response_type="ephemeral", text=problem)
            return
        queued = schedule(rt, context, respond, "diagnose",
                          lambda: diagnose(name, service_name, context["lang"], respond))
        await ack(response_type="ephemeral",
                  text=t("diagnose_slack.running", ulang, playbook=name, service=service_name)
                  if queued else t("common.busy", ulang))

    @app.action(ActionId.DIAGNOSE_RUN)
    async def diagnose_button(ack, action, respond, context) -> None:
        await ack()
        name, _, service_name = (action.get("value") or "").partition(":")
        problem = usage_problem(name, service_name, context["user_lang"])
        if problem:
            rt.audit.outcome(context["correlation_id"], "usage", problem)
            await respond(text=problem, response_type="ephemeral", replace_original=False)
            return
        if not schedule(rt, context, respond, "diagnose",
                        lambda: diagnose(name, service_name, context["lang"], respond)):
            await respond(text=t("common.busy", context["user_lang"]), response_type="ephemeral",
                          replace_original=False)
