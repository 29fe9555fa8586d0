"""``/incident open|status|resolve|note|followup|lead|sev|page|publish`` and the incident buttons
(Acknowledge, Resolve, Request rollback). Answers only the person sees are in that person's language.

Inside an incident's channel a command applies to that incident; elsewhere to the only open one, or to
the one named (``/incident resolve INC-3 <cause>``); with several open and none named, the bot asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.changes.slack_flow import RequestNotPosted
from bot.common.errors import ChatopsError, UsageError
from bot.i18n import t
from bot.incidents.monitor import Monitor
from bot.incidents.people import IncidentPeople
from bot.incidents.policy import SEVERITIES, is_failing, signal_from_report
from bot.incidents.render import summary_message
from bot.incidents.service import Incidents
from bot.runtime import Runtime
from bot.slack.followup import schedule
from bot.slack.request import Tell, command_text, ephemeral
from bot.status.publish import PublicUpdates
from bot.store.incidents import Incident
from bot.store.models import utcnow
from bot.store.probes import keep_reports

VERBS = ("open", "status", "resolve", "note", "followup", "publish", "lead", "sev", "page")
_REF = re.compile(r"(?:inc-)?(\d{1,9})", re.IGNORECASE)
# A person as Slack sends a mention with escaping on (``<@U123>`` / ``<@U123|ana>``), or a bare user id.
_PERSON = re.compile(r"<@([UW][A-Z0-9]{2,31})(?:\|[^>]*)?>|([UW][A-Z0-9]{2,31})")
_SEVERITY = re.compile(r"(?:sev)?([123])", re.IGNORECASE)


@dataclass(frozen=True)
class IncidentArgs:
    verb: str  # help | open | status | resolve | note | followup
    service: str = ""
    number: int | None = None
    text: str = ""


def parse(text: str, lang: str) -> IncidentArgs:
    words = text.split()
    if not words or words[0].lower() == "help":
        return IncidentArgs("help")
    verb, rest = words[0].lower(), words[1:]
    if verb not in VERBS:
        raise UsageError(t("incident.usage", lang))
    if verb == "open":
        if not rest:
            raise UsageError(t("incident.usage", lang))
        return IncidentArgs("open", service=rest[0], text=" ".join(rest[1:]))
    number = None
    if rest and (match := _REF.fullmatch(rest[0])) and not (verb == "sev" and len(rest) == 1):
        number, rest = int(match.group(1)), rest[1:]
    if verb in ("note", "followup", "publish") and not rest:
        raise UsageError(t("incident.need_text", lang, verb=verb))
    if verb in ("lead", "page"):
        person = _PERSON.fullmatch(rest[0]) if len(rest) == 1 else None
        if person is None:
            raise UsageError(t("incident.need_person", lang, verb=verb))
        return IncidentArgs(verb, number=number, text=person.group(1) or person.group(2))
    if verb == "sev":
        level = _SEVERITY.fullmatch(rest[0]) if len(rest) == 1 else None
        if level is None:
            raise UsageError(t("incident.need_severity", lang))
        return IncidentArgs(verb, number=number, text=f"sev{level.group(1)}")
    return IncidentArgs(verb, number=number, text=" ".join(rest))


class IncidentHandlers:
    """``/incident`` and the Resolve / Request rollback buttons of an incident's summary."""

    def __init__(self, rt: Runtime, incidents: Incidents, people: IncidentPeople, monitor: Monitor,
                 public_updates: PublicUpdates) -> None:
        self.rt = rt
        self.incidents = incidents
        self.people = people
        self.monitor = monitor
        self.public_updates = public_updates

    async def command(self, ack, command, respond, context) -> None:
        """``lang`` is the channel's (what the incident is written in); ``ulang`` the person's (what only
        they read)."""
        lang, ulang, cid = context["lang"], context["user_lang"], context["correlation_id"]
        try:
            args = parse(command_text(command, ulang), ulang)
            if args.verb == "open" and self.rt.config.service(args.service) is None:
                raise UsageError(t("common.unknown_service", ulang, name=args.service,
                                   known=", ".join(self.rt.config.service_names)))
        except ChatopsError as exc:
            self.rt.audit.outcome(cid, "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        if args.verb == "help":
            self.rt.audit.outcome(cid, "help")
            await ack(response_type="ephemeral", text=t("incident.usage", ulang))
            return
        user, channel, say = command["user_id"], command["channel_id"], ephemeral(respond)
        jobs = {
            "open": lambda ul: self.open_incident(args, user, channel, lang, ul, say),
            "status": lambda ul: self.status(args, channel, ul, say, respond),
            "resolve": lambda ul: self.resolve(args, user, channel, ul, say),
            "note": lambda ul: self.note(args, user, channel, ul, say),
            "followup": lambda ul: self.note(args, user, channel, ul, say),
            "publish": lambda ul: self.publish(args, user, channel, ul, say),
            "lead": lambda ul: self.lead(args, user, channel, ul, say),
            "sev": lambda ul: self.severity(args, user, channel, ul, say),
            "page": lambda ul: self.page(args, user, channel, ul, say),
        }

        async def work() -> str:
            # The person's language, looked up now if the ack could not know it yet.
            return await jobs[args.verb](await self.rt.user_languages.language(user, ulang))

        if schedule(self.rt, context, respond, "incident", work):
            await ack(response_type="ephemeral", text=t(f"incident.ack.{args.verb}", ulang, service=args.service))
        else:
            await ack(response_type="ephemeral", text=t("common.busy", ulang))

    async def resolve_button(self, ack, action, body, respond, context) -> None:
        await self._button(ack, action, body, respond, context, self._resolve_click)

    async def rollback_button(self, ack, action, body, respond, context) -> None:
        await self._button(ack, action, body, respond, context, self._rollback_click)

    async def ack_button(self, ack, action, body, respond, context) -> None:
        """Acknowledge, in the summary or in a page's direct message: paging stops."""
        await self._button(ack, action, body, respond, context, self._ack_click)

    async def find(self, args: IncidentArgs, channel: str | None, lang: str, say: Tell) -> Incident | None:
        inc, still_open = await self.incidents.find(channel, args.number)
        if inc is None:
            if args.number is not None:
                await say(t("incident.unknown", lang, ref=f"INC-{args.number}"))
            elif not still_open:
                await say(t("incident.no_open", lang))
            else:
                await say(t("incident.which", lang, refs=", ".join(i.ref for i in still_open), verb=args.verb,
                            first=still_open[0].ref))
        return inc

    async def open_incident(self, args: IncidentArgs, user: str, channel: str, lang: str, ulang: str,
                            say: Tell) -> str:
        service = self.rt.config.service(args.service)
        report = await self.rt.prober.probe_service(service)
        self.rt.spawn("probe-history", keep_reports(self.rt.store, [report], source="command"))
        state = self.monitor.state(service.name)
        now = utcnow()
        started = state.failing_since if state and state.failing_since and is_failing(report) else now
        signal = signal_from_report(report, started_at=started, detected_at=now,
                                    pressure=state.pressure if state else None)
        if not signal.failing:  # the probe sees nothing: the impact is what the person reports
            signal = replace(signal, reason="manual", severity="sev2", symptom=None)
        opened = await self.incidents.open(service.name, signal, source="manual", title=args.text or None,
                                           opened_by=user, origin_channel=channel, lang=lang)
        inc = opened.incident
        await say(t("incident.opened" if opened.created else "incident.already_open", ulang, ref=inc.ref,
                    service=inc.service, channel=None if inc.thread_ts else inc.channel_id))
        return "opened" if opened.created else "already_open"

    async def status(self, args: IncidentArgs, channel: str, ulang: str, say: Tell, respond) -> str:
        inc = await self.find(args, channel, ulang, say)
        if inc is None:
            return "not_found"
        text, blocks = summary_message(await self.incidents.view(inc.id))
        await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=False)
        return "ok"

    async def resolve(self, args: IncidentArgs, user: str, channel: str | None, lang: str, say: Tell) -> str:
        inc = await self.find(args, channel, lang, say)
        if inc is None:
            return "not_found"
        if inc.is_open:
            await self.incidents.acknowledge(inc.id, user)
            change = await self.incidents.resolve(inc.id, user, cause=args.text)
            if change.won:
                await say(t("incident.resolved_ok", lang, ref=inc.ref,
                            channel=None if inc.thread_ts else inc.channel_id))
                return "resolved"
            inc = change.incident
        await say(t("incident.already_resolved", lang, ref=inc.ref, user=inc.resolved_by))
        return "already_resolved"

    async def note(self, args: IncidentArgs, user: str, channel: str, lang: str, say: Tell) -> str:
        inc = await self.find(args, channel, lang, say)
        if inc is None:
            return "not_found"
        await self.incidents.acknowledge(inc.id, user)
        await self.incidents.add_note(inc.id, user, args.verb, args.text)
        await say(t("incident.noted", lang, ref=inc.ref))
        return "noted"

    async def publish(self, args: IncidentArgs, user: str, channel: str, lang: str, say: Tell) -> str:
        """Draft a public update for the status page; a second person approves it."""
        inc = await self.find(args, channel, lang, say)
        return await self.public_updates.draft(inc, user, args.text, lang, say) if inc else "not_found"

    async def find_open(self, args: IncidentArgs, channel: str, lang: str, say: Tell) -> Incident | str:
        """The open incident the command means, or the audit outcome after telling the person why not."""
        inc = await self.find(args, channel, lang, say)
        if inc is None:
            return "not_found"
        if not inc.is_open:
            await say(t("incident.already_resolved", lang, ref=inc.ref, user=inc.resolved_by))
            return "already_resolved"
        return inc

    async def lead(self, args: IncidentArgs, user: str, channel: str, lang: str, say: Tell) -> str:
        """``/incident lead @user``: the commander, in the summary and the postmortem."""
        inc = await self.find_open(args, channel, lang, say)
        if isinstance(inc, str):
            return inc
        changed = await self.people.lead(inc.id, args.text, actor=user)
        await say(t("incident.lead_ok" if changed else "incident.lead_same", lang, ref=inc.ref, user=args.text))
        return "lead" if changed else "unchanged"

    async def severity(self, args: IncidentArgs, user: str, channel: str, lang: str, say: Tell) -> str:
        """``/incident sev <1|2|3>``: on the timeline, in the header."""
        inc = await self.find_open(args, channel, lang, say)
        if isinstance(inc, str):
            return inc
        assert args.text in SEVERITIES
        changed = await self.people.set_severity(inc.id, args.text, actor=user)
        await say(t("incident.sev_ok" if changed else "incident.sev_same", lang, ref=inc.ref,
                    severity=t(f"incident.severity.{args.text}", lang)))
        return "severity" if changed else "unchanged"

    async def page(self, args: IncidentArgs, user: str, channel: str, lang: str, say: Tell) -> str:
        """``/incident page @user``: a direct message with the summary and an Acknowledge button."""
        inc = await self.find_open(args, channel, lang, say)
        if isinstance(inc, str):
            return inc
        delivered = await self.people.page(inc.id, args.text, actor=user)
        await say(t("incident.page_ok" if delivered else "incident.page_failed", lang, ref=inc.ref, user=args.text))
        return "paged" if delivered else "page_failed"

    async def _button(self, ack, action, body, respond, context, run) -> None:
        await ack()
        lang, say = context["user_lang"], ephemeral(respond)
        value = action.get("value") or ""
        if not value.isdigit():
            self.rt.audit.outcome(context["correlation_id"], "usage", "bad incident id")
            await say(t("incident.unknown", lang, ref=value[:20]))
            return
        user = body["user"]["id"]

        async def work() -> str:
            return await run(int(value), user, await self.rt.user_languages.language(user, lang), say)

        if not schedule(self.rt, context, respond, "incident-button", work):
            await say(t("common.busy", lang))

    async def _resolve_click(self, number: int, user: str, lang: str, say: Tell) -> str:
        return await self.resolve(IncidentArgs("resolve", number=number), user, None, lang, say)

    async def _ack_click(self, number: int, user: str, lang: str, say: Tell) -> str:
        inc = await self.incidents.get(number)
        if inc is None:
            await say(t("incident.unknown", lang, ref=f"INC-{number}"))
            return "not_found"
        if await self.incidents.acknowledge(number, user):
            await say(t("incident.ack_ok", lang, ref=inc.ref))
            return "acknowledged"
        inc = await self.incidents.get(number)
        await say(t("incident.ack_already", lang, ref=inc.ref, user=inc.commander, open=inc.is_open))
        return "already_acknowledged"

    async def _rollback_click(self, number: int, user: str, lang: str, say: Tell) -> str:
        await self.incidents.acknowledge(number, user)
        inc = await self.incidents.get(number)
        reason = t("incident.rollback_reason", inc.lang if inc else lang, ref=f"INC-{number}")  # posted publicly
        try:
            outcome = await self.incidents.offer_rollback(number, user, reason=reason, tell=say)
        except RequestNotPosted as exc:  # why, and what to do instead, to the person who clicked
            await say(t(f"incident.rollback_click.not_posted.{exc.failure}", lang, ref=f"INC-{number}",
                        **exc.variables))
            return f"rollback_not_posted:{exc.failure}"
        if outcome != "requested":
            await say(t(f"incident.rollback_click.{outcome}", lang, ref=f"INC-{number}"))
        return f"rollback_{outcome}"
