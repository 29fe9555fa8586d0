"""Editing live messages (incident summaries, deployment announcements) without flooding Slack.

Callers say "this message changed" as often as they like; the pacer keeps one worker per channel
that edits at most once per ``min_interval`` seconds and renders the message when it sends, so a
burst of events becomes one ``chat.update`` carrying the latest state. The Slack client's retry
handler already waits out ``Retry-After`` a few times; when Slack keeps answering 429 beyond that,
the edit is queued again after ``Retry-After`` (up to ``max_rate_limited`` times) instead of being
lost. A 5xx, a timeout or a render that fails is retried a few times with backoff. A message Slack
refuses as too long or malformed is edited to its text alone, shortened.

An edit that still fails (the channel archived, the message gone, Slack down for good) is reported
once per message and error to the request's ``on_failure``, which records it and may post a copy
elsewhere (``post.fail_over``); from then on, while the original keeps refusing, the copy is the one
kept current. The edits themselves go through ``bot.slack.post.edit``, the one way the bot edits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.post import CONTENT, UNSURE, Elsewhere, Posted, edit, shortened

logger = logging.getLogger(__name__)

# Renders the message as it should look now: (fallback text, blocks), or None when there is nothing to show.
Render = Callable[[], Awaitable[tuple[str, list[dict]] | None]]
# Told once per message and error when an edit cannot be made: (what failed, text, blocks) -> a copy or None.
OnFailure = Callable[[Posted, str, list[dict]], Awaitable[Elsewhere | None]]
Spawn = Callable[[str, Coroutine], asyncio.Task]

MAX_TRANSIENT_ATTEMPTS = 5
MAX_RATE_LIMITED_ROUNDS = 5  # each round is the client's own four tries


@dataclass(frozen=True)
class _Request:
    render: Render
    on_failure: OnFailure | None


class SummaryPacer:
    def __init__(self, slack: AsyncWebClient, *, min_interval: float = 1.0, spawn: Spawn | None = None) -> None:
        self.slack = slack
        self.min_interval = min_interval
        self.max_attempts = MAX_TRANSIENT_ATTEMPTS
        self.max_rate_limited = MAX_RATE_LIMITED_ROUNDS
        self._spawn = spawn or (lambda name, coro: asyncio.create_task(coro, name=name))
        self._pending: dict[str, dict[str, _Request]] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        self._rate_limited: dict[tuple[str, str], int] = {}
        self._failing: dict[tuple[str, str], str] = {}  # the error already reported for a message
        self._copies: dict[tuple[str, str], Elsewhere] = {}  # kept current while the original refuses
        self._last_sent: dict[str, float] = {}
        self._workers: dict[str, asyncio.Task] = {}

    def request(self, channel: str, ts: str, render: Render, on_failure: OnFailure | None = None) -> None:
        """Ask for message ``ts`` in ``channel`` to be re-rendered and edited soon (coalesced)."""
        self._pending.setdefault(channel, {})[ts] = _Request(render, on_failure)
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
            request = queue.pop(ts)
            retry_in = await self._send(channel, ts, request)
            self._last_sent[channel] = time.monotonic()
            if retry_in is not None:
                queue.setdefault(ts, request)  # a newer request for the same message wins
                await asyncio.sleep(retry_in)

    async def _send(self, channel: str, ts: str, request: _Request) -> float | None:
        """Edit once; the seconds to wait before trying again, or None when done (sent or given up)."""
        key = (channel, ts)
        try:
            rendered = await request.render()
        except Exception as exc:  # the state could not be read (the database away): try a few more times
            return self._transient(key, f"{type(exc).__name__}: {exc}")
        if rendered is None:
            return None
        text, blocks = rendered
        edited = await edit(self.slack, channel, ts, text, blocks)
        if edited:
            self._settled(key)
            return None
        if edited.error == "ratelimited":
            rounds = self._rate_limited[key] = self._rate_limited.get(key, 0) + 1
            if rounds < self.max_rate_limited:
                logger.warning("chat.update still rate limited; retrying in %.0f s", edited.retry_after or 1.0,
                               extra={"channel": channel, "ts": ts})
                return max(1.0, edited.retry_after or 1.0)
        elif edited.transient or edited.error in UNSURE:
            if (retry_in := self._transient(key, edited.error or "")) is not None:
                return retry_in
        elif edited.error in CONTENT and (short := shortened(text, 3900)):
            trimmed = await edit(self.slack, channel, ts, short, [])
            edited = replace(trimmed, error=edited.error, fallback="trimmed") if trimmed else edited
        await self._failed(key, edited, text, blocks, request.on_failure)
        return None

    def _transient(self, key: tuple[str, str], problem: str) -> float | None:
        attempts = self._attempts[key] = self._attempts.get(key, 0) + 1
        if attempts >= self.max_attempts:
            logger.error("giving up editing a message: %s", problem, extra={"channel": key[0], "ts": key[1]})
            self._attempts.pop(key, None)
            return None
        logger.warning("could not edit a message (%s); retrying", problem, extra={"channel": key[0], "ts": key[1]})
        return min(30.0, 0.5 * 2 ** attempts)

    def _settled(self, key: tuple[str, str]) -> None:
        for state in (self._attempts, self._rate_limited, self._failing, self._copies):
            state.pop(key, None)

    async def _failed(self, key: tuple[str, str], edited: Posted, text: str, blocks: list[dict],
                      on_failure: OnFailure | None) -> None:
        """Report a failed edit once per message and error; while it lasts, keep the copy current."""
        self._attempts.pop(key, None)
        self._rate_limited.pop(key, None)
        if self._failing.get(key) == edited.error:
            copy = self._copies.get(key)
            if copy is not None:
                await edit(self.slack, copy.channel, copy.ts, *copy.dress(text, blocks))
            return
        self._failing[key] = edited.error or ""
        logger.error("could not edit a message: %s", edited.error, extra={"channel": key[0], "ts": key[1]})
        if on_failure is None:
            return
        try:
            copy = await on_failure(replace(edited, channel=edited.channel or key[0]), text, blocks)
        except Exception:
            logger.exception("reporting a failed edit failed")
            return
        if copy is not None:
            self._copies[key] = copy
