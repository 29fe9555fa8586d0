"""``/db <service> backups|backup|migrations|cleanup|restore …``: readings answered to the asker, changes
posted as approval requests; a restore's Approve opens a modal where the approver types the service's name."""

from __future__ import annotations

import json
import logging

from bot.changes.runner import RollbackRefused
from bot.changes.slack_flow import RollbackFlow
from bot.common.errors import ChatopsError
from bot.common.responses import Origin
from bot.dbops.backups import read_backups, request_backup
from bot.dbops.cleanup import request_cleanup
from bot.dbops.command import DbArgs, parse
from bot.dbops.migrations import read_migrations
from bot.dbops.render import CONFIRM_BLOCK, CONFIRM_INPUT, backups_message, migrations_message, restore_modal
from bot.dbops.restore import request_restore
from bot.dbops.target import DbUnavailable, db_service
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.followup import schedule
from bot.slack.request import command_text, ephemeral
from bot.store import actions

logger = logging.getLogger(__name__)


class DbHandlers:
    def __init__(self, rt: Runtime, flow: RollbackFlow) -> None:
        self.rt = rt
        self.flow = flow

    async def command(self, ack, command, respond, context) -> None:
        lang, ulang = context["lang"], context["user_lang"]
        try:
            args = parse(command_text(command, ulang))
            db_service(self.rt.config, args.service)
            if self.rt.railway is None:
                raise DbUnavailable("db.no_token")
        except ChatopsError as exc:
            self.rt.audit.outcome(context["correlation_id"], "usage", str(exc))
            await ack(response_type="ephemeral", text=exc.message(ulang))
            return
        user, channel = command["user_id"], command["channel_id"]

        async def work() -> str:
            if args.verb == "backups":
                return await self.backups(args, ulang, respond)
            if args.verb == "migrations":
                return await self.migrations(args, ulang, respond)
            return await self.change(args, user, channel, lang, ulang, respond)

        queued = schedule(self.rt, context, respond, f"db-{args.verb}", work)
        await ack(response_type="ephemeral",
                  text=t(f"db.ack.{args.verb}", ulang, service=args.service) if queued else t("common.busy", ulang))

    async def backups(self, args: DbArgs, lang: str, respond) -> str:
        text, blocks = backups_message(await read_backups(self.rt, args.service), lang)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return "ok"

    async def migrations(self, args: DbArgs, lang: str, respond) -> str:
        text, blocks = migrations_message(await read_migrations(self.rt, args.service), lang)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return "ok"

    async def change(self, args: DbArgs, user: str, channel: str, lang: str, ulang: str, respond) -> str:
        try:
            if args.verb == "restore":
                await request_restore(self.rt, self.flow, args.service, args.backup_id, user=user, channel=channel,
                                      lang=lang, reason=args.reason, tell=ephemeral(respond))
            elif args.verb == "cleanup":
                await request_cleanup(self.rt, self.flow, args.service, args.target, args.older_than, user=user,
                                      channel=channel, lang=lang, reason=args.reason, tell=ephemeral(respond))
            else:
                await request_backup(self.rt, self.flow, args.service, user=user, channel=channel, lang=lang,
                                     reason=args.reason, tell=ephemeral(respond))
        except RollbackRefused as exc:
            await ephemeral(respond)(t(exc.key, ulang, **exc.variables))
            return "refused"
        return "requested"

    async def restore_button(self, ack, action, body, respond, context) -> None:
        """Approve restore…: open the confirmation modal at once (the trigger lasts 3 seconds)."""
        await ack()
        user, trigger = body["user"]["id"], body.get("trigger_id")
        channel = (body.get("channel") or {}).get("id") or ""
        self.rt.spawn(f"restore-modal-{action.get('value')}",
                      self._open_modal(action.get("value") or "", user, trigger, channel, context, respond))

    async def _open_modal(self, request_id: str, user: str, trigger: str | None, channel: str, context,
                          respond) -> None:
        tell = ephemeral(respond)
        lang = context["user_lang"]
        req = await actions.get(self.rt.store, request_id)
        if req is None or req.action != "db_restore":
            await tell(t("rollback.unknown_request", lang, request_id=request_id))
            return
        if req.status != actions.PENDING:
            await tell(t("rollback.not_pending", lang, status=t(f"rollback.status.{req.status}", lang),
                         user=req.decided_by))
            return
        if user == req.requested_by and not self.rt.config.approvals.allow_self_approval:
            await tell(t("rollback.self_approval", lang))
            return
        try:
            await self.rt.slack.views_open(trigger_id=trigger, view=restore_modal(req, lang, channel))
        except Exception as exc:  # an expired trigger, Slack away: the person clicks again
            logger.warning("views.open failed: %s", exc)
            await tell(t("db.restore.modal_failed", lang))

    async def restore_submit(self, ack, body, view, context) -> None:
        """The modal's Submit: the typed name must be the service's, else the modal says so and stays."""
        lang = context["user_lang"]
        try:
            meta = json.loads(view.get("private_metadata") or "")
            request_id, service, channel = str(meta["r"]), str(meta["s"]), str(meta["c"])
        except (ValueError, KeyError, TypeError):
            self.rt.audit.outcome(context["correlation_id"], "usage", "bad private_metadata")
            await ack()
            return
        typed = (((view.get("state") or {}).get("values") or {}).get(CONFIRM_BLOCK) or {}).get(CONFIRM_INPUT) or {}
        if (typed.get("value") or "").strip() != service:
            self.rt.audit.outcome(context["correlation_id"], "mismatch")
            await ack(response_action="errors",
                      errors={CONFIRM_BLOCK: t("db.restore.mismatch", lang, service=service)})
            return
        await ack()
        # No response_url on a submission: the person is told privately where they clicked (else by DM).
        user = body["user"]["id"]
        respond = self.rt.responses.responder(Origin(None, user, channel, context["correlation_id"]))
        tell = ephemeral(respond)

        async def work() -> str:
            return await self.flow.decide(request_id, user, lang, tell, reject=False, confirmed=True)

        if not schedule(self.rt, context, respond, "db-restore-decision", work):
            await tell(t("common.busy", lang))
