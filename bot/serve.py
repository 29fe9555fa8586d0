"""``chatops serve``: start the bot built by the composition root, serve Slack over HTTP (or Socket
Mode), and stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

from aiohttp import web

from bot.common.redact import redact
from bot.main import ChatOps
from bot.runtime import Runtime
from bot.slack.bolt_app import build_bolt_app
from bot.slack.http import build_runner, build_web_app
from bot.store.schema import HEAD_REVISION, current_revision, upgrade_in_child

logger = logging.getLogger(__name__)


async def prepare_database(rt: Runtime) -> None:
    """SQLite is migrated in place (in a child process, so serving never loads Alembic); PostgreSQL is
    migrated by the release step, so only checked."""
    if rt.store.is_sqlite:
        if await current_revision(rt.store) != HEAD_REVISION:
            await upgrade_in_child(rt.settings.DATABASE_URL)
        return
    try:
        current = await current_revision(rt.store)
    except Exception as exc:
        logger.error("database unreachable at startup: %s", redact(str(exc)))
        return
    if current != HEAD_REVISION:
        logger.warning("database schema is at %s, expected %s: run `chatops migrate`", current, HEAD_REVISION)


async def identify_bot(rt: Runtime) -> None:
    """One auth.test at startup, so no request waits on it before its ack."""
    try:
        answer = await rt.slack.auth_test()
        rt.bot_user_id = answer.get("user_id")
        rt.team_id = answer.get("team_id")
    except Exception as exc:
        logger.error("Slack auth.test failed at startup: %s", exc)


async def start_runtime(rt: Runtime) -> None:
    """What must run before the first request: the schema, the audit writer, the pool, the bot's identity."""
    await prepare_database(rt)
    rt.audit.start()
    rt.jobs.start()
    await identify_bot(rt)


def settle_heap() -> None:
    """Put what start-up loaded out of the garbage collector's sight, since it lives as long as the process.

    A full collection walks every tracked object, and the libraries alone are hundreds of thousands:
    with 1,000 services watched, each full collection stopped the event loop for 120 ms and so delayed
    any ack waiting behind it (#17). Frozen objects are never walked again (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


def web_app(chatops: ChatOps) -> web.Application:
    """The HTTP app ``chatops serve`` runs (and the sandbox runs on loopback)."""
    return build_web_app(chatops.rt, build_bolt_app(chatops.rt, chatops.register), chatops.web_routes())


async def run_http(chatops: ChatOps, host: str, port: int, stop: asyncio.Event) -> None:
    runner = build_runner(chatops.rt, web_app(chatops))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    settle_heap()
    await chatops.start_duties()
    logger.info("listening", extra={"host": host, "port": port})
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def run_socket_mode(chatops: ChatOps, stop: asyncio.Event) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    bolt = build_bolt_app(chatops.rt, chatops.register)
    handler = AsyncSocketModeHandler(bolt, chatops.rt.settings.SLACK_APP_TOKEN)
    await handler.connect_async()
    settle_heap()
    await chatops.start_duties()
    try:
        await stop.wait()
    finally:
        await handler.close_async()


async def serve(chatops: ChatOps, *, host: str, port: int, socket: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await start_runtime(chatops.rt)
    try:
        if socket:
            await run_socket_mode(chatops, stop)
        else:
            await run_http(chatops, host, port, stop)
    finally:
        await chatops.close()
