"""``/health [service|url]`` and the Re-check button: probe, store, report in the channel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.common.errors import ChatopsError
from bot.i18n import t
from bot.probe import Coalescer, probe_key, resolve_targets
from bot.probe.models import ServiceReport
from bot.render.health import health_message
from bot.render.health_chart import latency_chart
from bot.runtime import Runtime
from bot.slack.files import ChartPoster
from bot.slack.followup import schedule
from bot.slack.request import command_text, ephemeral
from bot.store.probes import endpoint_history, keep_reports

CHART_FLAG = "--chart"
CHART_WINDOW = timedelta(hours=1)

# (channel id, user id, reports): told after a person's check, so an incident living in that
# channel adds the verdicts to its timeline; handed over by the composition root.
HealthChecked = Callable[[str, str, list[ServiceReport]], Awaitable[None]]


class HealthHandlers:
    """Probes of the same target in flight at once share one run (the ``Coalescer``)."""

    def __init__(self, rt: Runtime, charts: ChartPoster, on_checked: HealthChecked | None = None) -> None:
        self.rt = rt
        self.charts = charts
        self.coalescer = Coalescer()
        self.on_checked = on_checked

    async def command(self, ack, command, respond, context) -> None:
        lang, ulang = context["lang"], context["user_lang"]
        try:
            words = command_text(command, ulang).split()
            chart = CHART_FLAG in words
            targets = resolve_targets(" ".join(w for w in words if w != CHART_FLAG), self.rt.config,
                                      allow_any_url=False)
        except ChatopsError as exc:
            self.rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        channel = command.get("channel_id")

        async def work() -> str:
            outcome = await self.probe_and_report(targets, respond, lang, replace=False,
                                                  who=(command["channel_id"], command["user_id"]))
            if chart:
                for service, _path in targets:
                    await self.latency_chart(service.name, channel, lang, respond)
            return outcome

        queued = schedule(self.rt, context, respond, "health", work)
        checking = (t("health.ack_all", ulang) if len(targets) > 1
                    else t("health.ack_one", ulang, target=targets[0][0].name))
        await ack(response_type="ephemeral", text=checking if queued else t("common.busy", ulang))

    async def recheck(self, ack, action, respond, context) -> None:
        await ack()
        lang, ulang = context["lang"], context["user_lang"]
        value = action.get("value") or ""
        try:
            targets = resolve_targets("" if value == "*" else value, self.rt.config, allow_any_url=False)
        except ChatopsError as exc:
            self.rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ephemeral(respond)(exc.message(ulang))
            return
        if not schedule(self.rt, context, respond, "health",
                        lambda: self.probe_and_report(targets, respond, lang, replace=True,
                                                      who=_who(context))):
            await ephemeral(respond)(t("common.busy", ulang))

    async def probe_and_report(self, targets, respond, lang: str, *, replace: bool,
                               who: tuple[str | None, str | None] = (None, None)) -> str:
        """Probe, store, answer in the channel; ``who`` (channel, person) asked, for the incidents."""
        prober = self.rt.prober
        reports = await asyncio.gather(*(
            self.coalescer.run(probe_key(service, path), lambda s=service, p=path: prober.probe_service(s, p))
            for service, path in targets))
        self.rt.spawn("probe-history", keep_reports(self.rt.store, reports, source="command"))
        text, blocks = health_message(reports, lang)
        await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=replace)
        channel, user = who
        if self.on_checked is not None and channel and user:  # after the answer, never failing it
            self.rt.spawn("health-checked", self.on_checked(channel, user, list(reports)))
        return "ok"

    async def latency_chart(self, service: str, channel: str | None, lang: str, respond) -> None:
        """Each endpoint's latency over the last hour (this probe included), after the report."""
        since = datetime.now(UTC) - CHART_WINDOW
        spec = latency_chart(service, await endpoint_history(self.rt.store, service, since), lang)
        if spec is None:
            await ephemeral(respond)(t("health.chart.no_history", lang, service=service))
            return
        await self.charts.share(spec, channel)


def _who(context) -> tuple[str | None, str | None]:
    info = context["request_info"]
    return info.channel_id, info.user_id
