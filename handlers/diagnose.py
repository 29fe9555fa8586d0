"""``/diagnose`` (a playbook or all, then a service) and the Diagnose button: run playbooks, post findings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.common.errors import UsageError
from bot.i18n import t
from bot.render.diagnose import diagnose_message
from bot.runtime import Runtime
from bot.slack.files import ChartPoster
from bot.slack.followup import schedule
from bot.slack.request import command_text, ephemeral
from playbooks.base import Finding
from playbooks.registry import ALL, playbook_names

# (playbook name or "all", service name, language) -> findings; built by the composition root
RunPlaybooks = Callable[[str, str, str], Awaitable[list[Finding]]]
# (channel id, user id, service name, findings): told after a person's diagnosis, so an incident
# living in that channel adds them to its evidence; handed over by the composition root.
Diagnosed = Callable[[str, str, str, list[Finding]], Awaitable[None]]


class DiagnoseHandlers:
    def __init__(self, rt: Runtime, run_playbooks: RunPlaybooks, charts: ChartPoster,
                 on_diagnosed: Diagnosed | None = None) -> None:
        self.rt = rt
        self.run_playbooks = run_playbooks
        self.charts = charts
        self.on_diagnosed = on_diagnosed

    def usage_problem(self, name: str, service_name: str, lang: str) -> str | None:
        choices = [*playbook_names(), ALL]
        if not name or not service_name:
            return t("diagnose_slack.usage", lang, playbooks=" | ".join(choices))
        if name not in choices:
            return t("diagnose_slack.unknown_playbook", lang, name=name, playbooks=", ".join(choices))
        if self.rt.config.service(service_name) is None:
            return t("common.unknown_service", lang, name=service_name,
                     known=", ".join(self.rt.config.service_names))
        return None

    async def command(self, ack, command, respond, context) -> None:
        ulang = context["user_lang"]
        try:
            words = command_text(command, ulang).split()
        except UsageError as exc:
            self.rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        name, service_name = [*words, "", ""][:2]
        name = name.lower()
        problem = (self.usage_problem(name, service_name, ulang) if len(words) <= 2
                   else t("diagnose_slack.usage", ulang, playbooks=" | ".join([*playbook_names(), ALL])))
        if problem:
            self.rt.audit.outcome(context["correlation_id"], "usage", problem)
            await ack(response_type="ephemeral", text=problem)
            return
        queued = schedule(self.rt, context, respond, "diagnose",
                          lambda: self.diagnose(name, service_name, context["lang"], respond, context))
        await ack(response_type="ephemeral",
                  text=t("diagnose_slack.running", ulang, playbook=name, service=service_name)
                  if queued else t("common.busy", ulang))

    async def button(self, ack, action, respond, context) -> None:
        await ack()
        name, _, service_name = (action.get("value") or "").partition(":")
        problem = self.usage_problem(name, service_name, context["user_lang"])
        if problem:
            self.rt.audit.outcome(context["correlation_id"], "usage", problem)
            await ephemeral(respond)(problem)
            return
        if not schedule(self.rt, context, respond, "diagnose",
                        lambda: self.diagnose(name, service_name, context["lang"], respond, context)):
            await ephemeral(respond)(t("common.busy", context["user_lang"]))

    async def diagnose(self, name: str, service_name: str, lang: str, respond, context) -> str:
        findings = await self.run_playbooks(name, service_name, lang)
        text, blocks = diagnose_message(service_name, findings, lang)
        await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=False)
        info = context["request_info"]
        for finding in findings:  # the pictures follow the findings, which read complete without them
            await self.charts.share(finding.chart, info.channel_id)
        if self.on_diagnosed is not None and info.channel_id and info.user_id:
            await self.on_diagnosed(info.channel_id, info.user_id, service_name, list(findings))
        return "ok" if all(f.verdict == "ok" for f in findings) else "findings"
