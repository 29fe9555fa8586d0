"""Running a request's slow part after the ack, in the bounded pool, never failing silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.common import metrics
from bot.common.errors import ChatopsError
from bot.common.jobs import QueueFull
from bot.common.redact import redact
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.request import RequestInfo
from bot.store.audit import claim_trigger

logger = logging.getLogger(__name__)

Work = Callable[[], Awaitable[str | None]]


def schedule(rt: Runtime, context: dict[str, Any], respond, name: str, work: Work) -> bool:
    """Queue ``work``; False when the pool is full (the caller acks with ``common.busy``).

    ``work`` returns the audit outcome ("ok" when it returns None). A ChatopsError reaches the
    user as its own sentence; any other exception as a generic failure; both are audited.
    """
    info: RequestInfo = context["request_info"]
    cid: str = context["correlation_id"]
    channel_lang: str = context["lang"]

    async def job() -> None:
        if info.trigger_id and not await _first_delivery(rt, info.trigger_id):
            metrics.REPLAYS.inc()
            rt.audit.outcome(cid, "replay")
            return
        try:
            outcome = await work() or "ok"
        except ChatopsError as exc:
            lang = await rt.user_languages.language(info.user_id, channel_lang)
            await _tell(respond, t("common.failed", lang, command=info.name, error=redact(exc.message(lang))))
            rt.audit.outcome(cid, "error", str(exc))
            return
        except Exception as exc:
            logger.exception("follow-up failed", extra={"job": name})
            metrics.ERRORS.labels(name).inc()
            lang = await rt.user_languages.language(info.user_id, channel_lang)
            await _tell(respond, t("common.failed_unexpected", lang, command=info.name))
            rt.audit.outcome(cid, "error", f"{type(exc).__name__}: {exc}")
            return
        rt.audit.outcome(cid, outcome)

    try:
        rt.jobs.submit(name, job)
    except QueueFull:
        rt.audit.outcome(cid, "busy")
        return False
    return True


CLAIM_SECONDS = 2.0  # a hung database must not hold the answer up


async def _first_delivery(rt: Runtime, trigger_id: str) -> bool:
    try:
        async with asyncio.timeout(CLAIM_SECONDS):
            return await claim_trigger(rt.store, trigger_id)
    except Exception as exc:  # the database is away or hung: the in-memory check already ran; go on
        logger.warning("could not record trigger id: %s", redact(f"{type(exc).__name__}: {exc}"))
        return True


async def _tell(respond, text: str) -> None:
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:
        logger.error("could not tell the user about a failure: %s", exc)
