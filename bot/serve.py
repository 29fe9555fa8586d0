"""``chatops serve``: start the runtime, the Bolt app and the HTTP server (or Socket Mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterable

from aiohttp import web

from bot.runtime import Runtime
from bot.slack.bolt_app import Registrar, build_bolt_app
from bot.slack.http import build_web_app
from bot.store.audit import forget_old_triggers
from bot.store.migrate import current_revision, head_revision, upgrade_async

logger = logging.getLogger(__name__)


async def prepare_database(rt: Runtime) -> None:
    """SQLite is migrated in place; PostgreSQL is migrated by the release step, so only checked."""
    if rt.store.is_sqlite:
        await upgrade_async(rt.settings.DATABASE_URL)
        return
    try:
        current = await current_revision(rt.settings.DATABASE_URL)
    except Exception as exc:
        logger.error("database unreachable at startup: %s", exc)
        return
    if current != head_revision():
        logger.warning("database schema is at %s, expected %s: run `chatops migrate`", current, head_revision())


async def identify_bot(rt: Runtime) -> None:
    """One auth.test at startup, so no request waits on it before its ack."""
    try:
        answer = await rt.slack.auth_test()
        rt.bot_user_id = answer.get("user_id")
        rt.team_id = answer.get("team_id")
    except Exception as exc:
        logger.error("Slack auth.test failed at startup: %s", exc)


async def start_runtime(rt: Runtime) -> None:
    await prepare_database(rt)
    rt.audit.start()
    rt.jobs.start()
    await identify_bot(rt)
    # Slack rejects requests older than 5 minutes, so older trigger ids can never be replayed.
    rt.periodic_hooks.append(lambda: forget_old_triggers(rt.store))


async def run_http(rt: Runtime, registrars: Iterable[Registrar], host: str, port: int,
                   stop: asyncio.Event) -> None:
    bolt = build_bolt_app(rt, registrars)
    runner = web.AppRunner(build_web_app(rt, bolt), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    await rt.run_hooks()
    logger.info("listening", extra={"host": host, "port": port})
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def run_socket_mode(rt: Runtime, registrars: Iterable[Registrar], stop: asyncio.Event) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    bolt = build_bolt_app(rt, registrars)
    handler = AsyncSocketModeHandler(bolt, rt.settings.SLACK_APP_TOKEN)
    await handler.connect_async()
    await rt.run_hooks()
    try:
        await stop.wait()
    finally:
        await handler.close_async()


async def serve(rt: Runtime, registrars: Iterable[Registrar], *, host: str, port: int, socket: bool,
                background: Iterable = ()) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await start_runtime(rt)
    tasks = [asyncio.create_task(job(rt, stop)) for job in background]
    try:
        if socket:
            await run_socket_mode(rt, registrars, stop)
        else:
            await run_http(rt, registrars, host, port, stop)
    finally:
        for task in tasks:
            task.cancel()
        await rt.close()
