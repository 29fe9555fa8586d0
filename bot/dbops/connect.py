"""Connections to a service's own database, found the way the service finds it (its ``DATABASE_URL``
from Railway, as the db playbook reads it), for ``/db migrations`` (read-only) and cleanups."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from bot.common import pgconnect
from bot.common.pgconnect import BadUrl, DbUrl
from bot.config.services import ServiceConfig
from bot.dbops.target import DbUnavailable
from bot.i18n import t

if TYPE_CHECKING:
    import asyncpg
from bot.railway import RailwayClient

CONNECT_TIMEOUT = 5.0


class DbUnreachable(DbUnavailable):
    """The database could not be reached from the bot; ``kind`` as ``pgconnect.classify`` names it."""

    def __init__(self, where: str, kind: str, detail: str, private: bool) -> None:
        self.kind = kind
        key = "db.unreachable_private" if private and kind in ("dns", "timeout", "refused") else "db.unreachable"
        super().__init__(key, where=where, detail=detail, t_kind=t(f"db.connect_kind.{kind}", "en"))

    def message(self, lang: str | None) -> str:
        return t(self.key, lang, **{**self.variables, "t_kind": t(f"db.connect_kind.{self.kind}", lang)})


async def database_url(railway: RailwayClient | None, service: ServiceConfig) -> DbUrl:
    """The service's database URL (never shown: only ``DbUrl.where`` is)."""
    if railway is None:
        raise DbUnavailable("db.no_token")
    variables = await railway.variables(await railway.resolve(service.railway))
    chosen = pgconnect.effective(variables)
    if chosen is None:
        raise DbUnavailable("db.no_url", service=service.name)
    try:
        return pgconnect.parse(chosen[1])
    except BadUrl as exc:
        raise DbUnavailable("db.bad_url", service=service.name, name=chosen[0], reason=exc.reason) from None


@contextlib.asynccontextmanager
async def connect(url: DbUrl, *, read_only: bool, purpose: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection in UTC; ``read_only`` makes every transaction on it read-only (the server refuses
    any write), as ``/db migrations`` needs."""
    import asyncpg  # here, not at the top: a bot on SQLite that never opens one never loads it (#17, memory)

    settings = {"application_name": f"chatops-{purpose}", "timezone": "UTC"}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    try:
        conn = await asyncpg.connect(host=url.host, port=url.port, user=url.user, password=url.password,
                                     database=url.database, ssl=url.sslmode or "prefer", timeout=CONNECT_TIMEOUT,
                                     server_settings=settings)
    except Exception as exc:  # every failure is a reason to show: classified, redacted
        raise DbUnreachable(url.where, pgconnect.classify(exc), pgconnect.short_detail(exc), url.private) from None
    try:
        yield conn
    finally:
        await conn.close(timeout=2)
