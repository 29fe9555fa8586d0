"""``/rollback`` and its Approve / Reject buttons: parse, acknowledge, hand over to the flow."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from bot.changes.runner import RollbackRefused
from bot.changes.slack_flow import RequestNotPosted, RollbackFlow
from bot.common.errors import ChatopsError, UsageError
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.followup import schedule
from bot.slack.request import command_text, ephemeral
from bot.store.models import ActionRequest

_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True)
class RollbackArgs:
    verb: str  # request | list | reject
    service: str = ""
    deployment_id: str | None = None
    reason: str = ""
    request_id: str = ""


def parse(text: str, lang: str) -> RollbackArgs:
    try:
        words = shlex.split(text.translate(_QUOTES))
    except ValueError:
        raise UsageError(t("rollback.bad_quotes", lang)) from None
    if not words:
        raise UsageError(t("rollback.usage", lang))
    if words[0] == "reject" and len(words) >= 2:
        return RollbackArgs("reject", request_id=words[1], reason=" ".join(words[2:]))
    service, rest = words[0], words[1:]
    reason = ""
    if "--reason" in rest:
        at = rest.index("--reason")
        reason = " ".join(rest[at + 1:])
        rest = rest[:at]
    if rest == ["list"]:
        return RollbackArgs("list", service=service)
    if len(rest) > 1:
        raise UsageError(t("rollback.usage", lang))
    return RollbackArgs("request", service=service, deployment_id=rest[0] if rest else None, reason=reason)


class RollbackHandlers:
    """``/rollback``, Approve and Reject, and the changes the playbooks offer: parse, ack, hand to the flow."""

    def __init__(self, rt: Runtime, flow: RollbackFlow) -> None:
        self.rt = rt
        self.flow = flow

    async def command(self, ack, command, respond, context) -> None:
        lang, ulang, cid = context["lang"], context["user_lang"], context["correlation_id"]
        try:
            args = parse(command_text(command, ulang), ulang)
            if args.verb != "reject":
                self.flow.service(args.service)
        except ChatopsError as exc:
            self.rt.audit.outcome(cid, "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        user, channel = command["user_id"], command["channel_id"]
        if args.verb == "list":
            work, ack_key = (lambda: self.listing(args, ulang, respond)), "rollback.listing"
        elif args.verb == "reject":
            work, ack_key = (lambda: self.flow.decide(args.request_id, user, ulang, ephemeral(respond), reject=True,
                                                      note=args.reason)), None
        else:
            work, ack_key = (lambda: self.request(args, user, channel, lang, respond)), "rollback.preparing"
        if not schedule(self.rt, context, respond, "rollback", work):
            await ack(response_type="ephemeral", text=t("common.busy", ulang))
        elif ack_key:
            await ack(response_type="ephemeral", text=t(ack_key, ulang, service=args.service))
        else:
            await ack()

    async def approve(self, ack, action, body, respond, context) -> None:
        await self._decide(ack, action, body, respond, context, reject=False)

    async def reject(self, ack, action, body, respond, context) -> None:
        await self._decide(ack, action, body, respond, context, reject=True)

    async def playbook_action(self, ack, action, body, respond, context) -> None:
        """A change a playbook offered (redeploy, restart, rollback): it becomes a request to approve."""
        await ack()
        kind, _, rest = (action.get("value") or "").partition(":")
        service, _, playbook = rest.partition(":")
        user, channel = body["user"]["id"], (body.get("channel") or {}).get("id") or context.get("channel_id")

        async def work() -> str:
            if kind not in ("rollback", "redeploy", "restart"):
                await ephemeral(respond)(t("common.unknown_action", context["user_lang"]))
                return "usage"
            try:
                req = await self.flow.request(service, user=user, channel=channel, lang=context["lang"],
                                              action=kind, source="playbook", tell=ephemeral(respond),
                                              reason=t("rollback.from_playbook", context["lang"], playbook=playbook))
            except RollbackRefused as exc:
                await ephemeral(respond)(t(exc.key, await self.rt.user_languages.language(user, context["lang"]),
                                           **exc.variables))
                return _refused_outcome(exc)
            return _requested_outcome(req, channel)

        if not schedule(self.rt, context, respond, "playbook-action", work):
            await ephemeral(respond)(t("common.busy", context["user_lang"]))

    async def request(self, args: RollbackArgs, user: str, channel: str, lang: str, respond) -> str:
        try:
            req = await self.flow.request(args.service, user=user, channel=channel, lang=lang, reason=args.reason,
                                          deployment_id=args.deployment_id, tell=ephemeral(respond))
        except RollbackRefused as exc:
            ulang = await self.rt.user_languages.language(user, lang)
            await ephemeral(respond)(t(exc.key, ulang, **exc.variables))
            return _refused_outcome(exc)
        return _requested_outcome(req, channel)

    async def listing(self, args: RollbackArgs, lang: str, respond) -> str:
        text, blocks = await self.flow.deployments_list(args.service, lang)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return "ok"

    async def _decide(self, ack, action, body, respond, context, *, reject: bool) -> None:
        await ack()
        user = body["user"]["id"]

        async def work() -> str:
            lang = await self.rt.user_languages.language(user, context["lang"])
            return await self.flow.decide(action.get("value", ""), user, lang, ephemeral(respond), reject=reject)

        if not schedule(self.rt, context, respond, "rollback-decision", work):
            await ephemeral(respond)(t("common.busy", context["user_lang"]))


def _refused_outcome(exc: RollbackRefused) -> str:
    """The audit outcome: a request that could not be posted failed (and was cancelled); others were refused."""
    return f"not_posted:{exc.failure}" if isinstance(exc, RequestNotPosted) else "refused"


def _requested_outcome(req: ActionRequest, asked_in: str) -> str:
    return "requested" if req.channel_id == asked_in else "posted_elsewhere"
