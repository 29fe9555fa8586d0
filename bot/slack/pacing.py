"""Editing live messages (incident summaries, deployment announcements) without flooding Slack.

Callers say "this message changed" as often as they like; the pacer keeps one worker per channel
that edits at most once per ``min_interval`` seconds and renders the message when it sends, so a
burst of events becomes one ``chat.update`` carrying the latest state. The Slack client's retry
handler already waits out ``Retry-After`` a few times; when Slack keeps answering 429 beyond that,
the edit is queued again after ``Retry-After`` instead of being lost. Connection failures are retried
a few times with backoff; errors that a retry cannot fix (message gone, bad blocks) are logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.common import metrics

logger = logging.getLogger(__name__)

# Renders the message as it should look now: (fallback text, blocks), or None when there is nothing to show.
Render = Callable[[], Awaitable[tuple[str, list[dict]] | None]]
Spawn = Callable[[str, Coroutine], asyncio.Task]

MAX_TRANSIENT_ATTEMPTS = 5


class SummaryPacer:
    def __init__(self, slack: AsyncWebClient, *, min_interval: float = 1.0, spawn: Spawn | None = None) -> None:
        self.slack = slack
        self.min_interval = min_interval
        self._spawn = spawn or (lambda name, coro: asyncio.create_task(coro, name=name))
        self._pending: dict[str, dict[str, Render]] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        self._last_sent: dict[str, float] = {}
        self._workers: dict[str, asyncio.Task] = {}

    def request(self, channel: str, ts: str, render: Render) -> None:
        """Ask for message ``ts`` in ``channel`` to be re-rendered and edited soon (coalesced)."""
        self._pending.setdefault(channel, {})[ts] = render
        worker = self._workers.get(channel)
        if worker is None or worker.done():
            self._workers[channel] = self._spawn(f"summary-pacer-{channel}", self._drain(channel))

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until every requested edit has been sent or given up (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while any(not w.done() for w in self._workers.values()):
                await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _drain(self, channel: str) -> None:
        queue = self._pending[channel]
        while queue:
            wait = self._last_sent.get(channel, 0.0) + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            ts = next(iter(queue))
            render = queue.pop(ts)
            retry_in = await self._send(channel, ts, render)
            self._last_sent[channel] = time.monotonic()
            if retry_in is not None:
                queue.setdefault(ts, render)  # a newer request for the same message wins
                await asyncio.sleep(retry_in)

    async def _send(self, channel: str, ts: str, render: Render) -> float | None:
        """Edit once; the seconds to wait before trying again, or None when done (sent or hopeless)."""
        key = (channel, ts)
        try:
            rendered = await render()
            if rendered is None:
                return None
            text, blocks = rendered
            await self.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            error = exc.response.get("error") or "error"
            metrics.SLACK_CALLS.labels("chat.update", error).inc()
            if exc.response.status_code == 429:
                retry = _retry_after(exc.response.headers)
                logger.warning("chat.update still rate limited; retrying in %.0f s", retry,
                               extra={"channel": channel, "ts": ts})
                return retry
            logger.error("chat.update failed", extra={"channel": channel, "ts": ts, "error": error})
            self._attempts.pop(key, None)
            return None
        except Exception as exc:  # Slack unreachable, or the state could not be read: try a few more times
            attempts = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempts
            metrics.SLACK_CALLS.labels("chat.update", "unreachable").inc()
            if attempts >= MAX_TRANSIENT_ATTEMPTS:
                logger.error("giving up editing a message: %s", exc, extra={"channel": channel, "ts": ts})
                self._attempts.pop(key, None)
                return None
            logger.warning("could not edit a message (%s); retrying", exc, extra={"channel": channel, "ts": ts})
            return min(30.0, 0.5 * 2 ** attempts)
        metrics.SLACK_CALLS.labels("chat.update", "ok").inc()
        self._attempts.pop(key, None)
        return None


def _retry_after(headers) -> float:
    value = (headers.get("Retry-After") or headers.get("retry-after")) if headers else None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return 1.0
