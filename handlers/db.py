"""``/db <service> backups|backup|migrations|cleanup …``: readings answered to the asker, changes posted as
approval requests."""

from __future__ import annotations

from bot.changes.runner import RollbackRefused
from bot.changes.slack_flow import RollbackFlow
from bot.common.errors import ChatopsError
from bot.dbops.backups import read_backups, request_backup
from bot.dbops.cleanup import request_cleanup
from bot.dbops.command import DbArgs, parse
from bot.dbops.migrations import read_migrations
from bot.dbops.render import backups_message, migrations_message
from bot.dbops.target import DbUnavailable, db_service
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.followup import schedule
from bot.slack.request import command_text, ephemeral


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
            if args.verb == "cleanup":
                await request_cleanup(self.rt, self.flow, args.service, args.target, args.older_than, user=user,
                                      channel=channel, lang=lang, reason=args.reason, tell=ephemeral(respond))
            else:
                await request_backup(self.rt, self.flow, args.service, user=user, channel=channel, lang=lang,
                                     reason=args.reason, tell=ephemeral(respond))
        except RollbackRefused as exc:
            await ephemeral(respond)(t(exc.key, ulang, **exc.variables))
            return "refused"
        return "requested"
