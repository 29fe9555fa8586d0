"""``/incident open|status|resolve|note|followup`` and the incident buttons (Resolve, Request rollback).

Inside an incident's channel a command applies to that incident; elsewhere to the only open one, or to
the one named (``/incident resolve INC-3 <cause>``); with several open and none named, the bot asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from slack_bolt.async_app import AsyncApp

from bot.common.errors import ChatopsError
from bot.i18n import t
from bot.incidents.policy import is_failing, signal_from_report
from bot.incidents.service import Incidents
from bot.render.incident import summary_message
from bot.runtime import Runtime
from bot.slack.action_ids import ActionId
from bot.slack.followup import schedule
from bot.slack.request import MAX_COMMAND_TEXT
from bot.store.incidents import Incident
from bot.store.models import utcnow
from bot.store.probes import save_reports
from handlers import status_publish

VERBS = ("open", "status", "resolve", "note", "followup", "publish")
_REF = re.compile(r"(?:inc-)?(\d{1,9})", re.IGNORECASE)


class UsageError(ChatopsError):
    pass


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
    if rest and (match := _REF.fullmatch(rest[0])):
        number, rest = int(match.group(1)), rest[1:]
    if verb in ("note", "followup", "publish") and not rest:
        raise UsageError(t("incident.need_text", lang, verb=verb))
    return IncidentArgs(verb, number=number, text=" ".join(rest))


def register(app: AsyncApp, rt: Runtime) -> None:
    incidents: Incidents = rt.extras["incidents"]

    def tell(respond):
        async def say(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        return say

    async def find(args: IncidentArgs, channel: str, lang: str, say) -> Incident | None:
        inc, still_open = await incidents.find(channel, args.number)
        if inc is None:
            if args.number is not None:
                await say(t("incident.unknown", lang, ref=f"INC-{args.number}"))
            elif not still_open:
                await say(t("incident.no_open", lang))
            else:
                await say(t("incident.which", lang, refs=", ".join(i.ref for i in still_open), verb=args.verb,
                            first=still_open[0].ref))
        return inc

    async def open_incident(args: IncidentArgs, user: str, channel: str, lang: str, say) -> str:
        service = rt.config.service(args.service)
        report = await rt.prober.probe_service(service)
        await save_reports(rt.store, [report], source="command")
        monitor = rt.extras.get("monitor")
        state = monitor.states.get(service.name) if monitor else None
        now = utcnow()
        started = state.failing_since if state and state.failing_since and is_failing(report) else now
        signal = signal_from_report(report, started_at=started, detected_at=now,
                                    pressure=state.pressure if state else None)
        if not signal.failing:  # the probe sees nothing: the impact is what the person reports
            signal = replace(signal, reason="manual", severity="sev2", symptom=None)
        opened = await incidents.open(service.name, signal, source="manual", title=args.text or None,
                                      opened_by=user, origin_channel=channel, lang=lang)
        inc = opened.incident
        await say(t("incident.opened" if opened.created else "incident.already_open", lang, ref=inc.ref,
                    service=inc.service, channel=None if inc.thread_ts else inc.channel_id))
        return "opened" if opened.created else "already_open"

    async def status(args: IncidentArgs, channel: str, lang: str, say, respond) -> str:
        inc = await find(args, channel, lang, say)
        if inc is None:
            return "not_found"
        text, blocks = summary_message(await incidents.view(inc.id))
        await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=False)
        return "ok"

    async def resolve(args: IncidentArgs, user: str, channel: str | None, lang: str, say) -> str:
        inc = await find(args, channel, lang, say)
        if inc is None:
            return "not_found"
        if inc.is_open:
            await incidents.acknowledge(inc.id, user)
            change = await incidents.resolve(inc.id, user, cause=args.text)
            if change.won:
                await say(t("incident.resolved_ok", lang, ref=inc.ref,
                            channel=None if inc.thread_ts else inc.channel_id))
                return "resolved"
            inc = change.incident
        await say(t("incident.already_resolved", lang, ref=inc.ref, user=inc.resolved_by))
        return "already_resolved"

    async def note(args: IncidentArgs, user: str, channel: str, lang: str, say) -> str:
        inc = await find(args, channel, lang, say)
        if inc is None:
            return "not_found"
        await incidents.acknowledge(inc.id, user)
        await incidents.add_note(inc.id, user, args.verb, args.text)
        await say(t("incident.noted", lang, ref=inc.ref))
        return "noted"

    async def publish(args: IncidentArgs, user: str, channel: str, lang: str, say) -> str:
        inc = await find(args, channel, lang, say)
        return await status_publish.publish(rt, inc, user, args.text, lang, say) if inc else "not_found"

    @app.command("/incident")
    async def incident_command(ack, command, respond, context) -> None:
        lang, cid = context["lang"], context["correlation_id"]
        text = (command.get("text") or "").strip()
        try:
            if len(text) > MAX_COMMAND_TEXT:
                raise UsageError(t("common.too_long", lang, length=len(text), limit=MAX_COMMAND_TEXT))
            args = parse(text, lang)
            if args.verb == "open" and rt.config.service(args.service) is None:
                raise UsageError(t("common.unknown_service", lang, name=args.service,
                                   known=", ".join(rt.config.service_names)))
        except ChatopsError as exc:
            rt.audit.outcome(cid, "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(lang))
            return
        if args.verb == "help":
            rt.audit.outcome(cid, "help")
            await ack(response_type="ephemeral", text=t("incident.usage", lang))
            return
        user, channel, say = command["user_id"], command["channel_id"], tell(respond)
        work = {
            "open": lambda: open_incident(args, user, channel, lang, say),
            "status": lambda: status(args, channel, lang, say, respond),
            "resolve": lambda: resolve(args, user, channel, lang, say),
            "note": lambda: note(args, user, channel, lang, say),
            "followup": lambda: note(args, user, channel, lang, say),
            "publish": lambda: publish(args, user, channel, lang, say),
        }[args.verb]
        if schedule(rt, context, respond, "incident", work):
            await ack(response_type="ephemeral", text=t(f"incident.ack.{args.verb}", lang, service=args.service))
        else:
            await ack(response_type="ephemeral", text=t("common.busy", lang))

    def button(run):
        async def handler(ack, action, body, respond, context) -> None:
            await ack()
            lang, say = context["lang"], tell(respond)
            value = action.get("value") or ""
            if not value.isdigit():
                rt.audit.outcome(context["correlation_id"], "usage", "bad incident id")
                await say(t("incident.unknown", lang, ref=value[:20]))
                return
            user = body["user"]["id"]
            if not schedule(rt, context, respond, "incident-button", lambda: run(int(value), user, lang, say)):
                await say(t("common.busy", lang))
        return handler

    async def resolve_click(number: int, user: str, lang: str, say) -> str:
        return await resolve(IncidentArgs("resolve", number=number), user, None, lang, say)

    async def rollback_click(number: int, user: str, lang: str, say) -> str:
        await incidents.acknowledge(number, user)
        outcome = await incidents.offer_rollback(number, user, reason=t("incident.rollback_reason", lang,
                                                                         ref=f"INC-{number}"))
        if outcome != "requested":
            await say(t(f"incident.rollback_click.{outcome}", lang, ref=f"INC-{number}"))
        return f"rollback_{outcome}"

    app.action(ActionId.INCIDENT_RESOLVE)(button(resolve_click))
    app.action(ActionId.INCIDENT_ROLLBACK)(button(rollback_click))
    status_publish.register(app, rt)  # the public update's Approve / Reject buttons
