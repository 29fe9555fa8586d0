"""A database change is held by one replica (``bot.changes.holding``), and a restart carries on what a
dead one left: its thread is told, so nobody is left reading a message that stopped moving."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.changes.holding import Held, hold
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack import post as slack_messages
from bot.store import actions


@contextlib.asynccontextmanager
async def claim(rt: Runtime, request_id: str, holder: str, *, resumed: bool) -> AsyncIterator[Held | None]:
    """The running change, held by ``holder`` for the block; None when it ended elsewhere meanwhile.
    ``resumed``: a restart cut it off, which its thread is told."""
    async with hold(rt.store, request_id, holder, rt.config.monitor.lease_seconds) as held:
        if held is None or held.request.status != actions.RUNNING:
            yield None
            return
        if resumed:
            await _announce_resumed(rt, held.request)
        yield held


async def _announce_resumed(rt: Runtime, req: actions.ActionRequest) -> None:
    await actions.log_event(rt.store, req.id, "resumed", data={"step": sorted(req.params or {})})
    rt.audit.received(kind="system", name=f"{req.action}.resumed", outcome="resumed", subject=req.id,
                      detail="the bot process running it stopped; carried on from its last recorded step")
    if req.channel_id:
        await slack_messages.post(rt, req.channel_id, t("db.resumed", req.lang), thread_ts=req.message_ts)
