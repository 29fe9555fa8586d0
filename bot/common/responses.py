"""Answers to a request's ``response_url``, delivered outside the work pool and never lost silently.

Bolt's own ``respond`` waits up to 30 s for the URL inside the job that calls it, so a URL that hangs
holds a worker for the whole wait (and Bolt's failure notice to the same URL holds it again). Here
``respond`` only queues the answer: a task per request delivers its answers in order, each attempt
bounded by a short timeout, with at most one retry (after a timeout, a connection error or a 5xx).
An answer that still cannot be delivered falls back to ``chat.postEphemeral`` to the person (or a DM,
or for an in-channel answer a channel post) and is recorded in the audit log as failed. A request with
no response_url (a modal's submission) goes that way at once, and is recorded only if nothing lands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.common import metrics
from bot.common.redact import redact

logger = logging.getLogger(__name__)

RESPOND_TIMEOUT = 3.0  # seconds per attempt; Slack answers a response_url post in well under a second
ATTEMPTS = 2  # the first try and at most one retry
Audit = Callable[..., None]


@dataclass(frozen=True)
class Origin:
    """Where an answer goes when its response_url fails: the person and the conversation they acted in."""

    response_url: str | None
    user_id: str | None
    channel_id: str | None
    correlation_id: str | None = None


class ResponseDeliveries:
    def __init__(self, slack: AsyncWebClient, audit: Audit, http: httpx.AsyncClient, *,
                 timeout: float = RESPOND_TIMEOUT) -> None:
        """``http`` is this class's own client (its pool apart from the probes'), closed by ``close``."""
        self.slack = slack
        self.audit = audit
        self.timeout = timeout
        self._http = http
        self._last: dict[str, asyncio.Task] = {}  # the latest delivery per response_url: answers stay in order
        self._tasks: set[asyncio.Task] = set()

    def responder(self, origin: Origin) -> Responder:
        return Responder(self, origin)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def send(self, origin: Origin, message: dict[str, Any]) -> None:
        key = origin.response_url or f"{origin.channel_id}:{origin.user_id}"
        task = asyncio.create_task(self._deliver(origin, message, self._last.get(key)), name="respond")
        self._last[key] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task) -> None:
            self._tasks.discard(finished)
            if self._last.get(key) is finished:
                del self._last[key]
        task.add_done_callback(done)

    async def drain(self, timeout: float) -> None:
        """Let the answers already queued finish (shutdown), each bounded by its own timeouts."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    async def _deliver(self, origin: Origin, message: dict[str, Any], previous: asyncio.Task | None) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        if origin.response_url is None:  # a modal's submission: Slack gives no response_url
            delivered, where = await self._fallback(origin, message)
            if delivered:
                return
            problem, fallback = "a modal's submission has no response_url", where
        else:
            problem = await self._post(origin.response_url, message)
            if problem is None:
                metrics.SLACK_CALLS.labels("response_url", "ok").inc()
                return
            metrics.SLACK_CALLS.labels("response_url", "failed").inc()
            fallback = (await self._fallback(origin, message))[1]
        logger.warning("an answer was not delivered by response_url (%s); fallback: %s", problem, fallback)
        self.audit(kind="system", name="response_url", outcome="failed", user_id=origin.user_id,
                   channel_id=origin.channel_id, subject=origin.correlation_id,
                   detail=redact(f"{problem}; fallback: {fallback}")[:500])

    async def _post(self, url: str, message: dict[str, Any]) -> str | None:
        """None when delivered, else why not (after at most one retry of a transient failure)."""
        problem = "not tried"
        for _attempt in range(ATTEMPTS):
            try:
                resp = await self._http.post(url, json=message, timeout=self.timeout)
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout:g} s"
                continue
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}"
                continue
            if resp.status_code < 300:
                return None
            problem = f"HTTP {resp.status_code} {resp.text[:100]}"
            if resp.status_code < 500:  # expired_url, used_url, invalid payload: a retry cannot help
                return problem
        return problem

    async def _fallback(self, origin: Origin, message: dict[str, Any]) -> tuple[bool, str]:
        """chat.postEphemeral to the person, else a DM; an in-channel answer is posted in the channel first.
        Whether one landed, and where (or what each attempt met)."""
        text = str(message.get("text") or "")
        blocks = message.get("blocks") or None
        if not origin.user_id:
            return False, "none (no user)"
        attempts: list[tuple[str, dict[str, Any]]] = []
        if message.get("response_type") == "in_channel" and origin.channel_id:
            attempts.append(("chat.postMessage", {"channel": origin.channel_id}))
        if origin.channel_id:
            attempts.append(("chat.postEphemeral", {"channel": origin.channel_id, "user": origin.user_id}))
        attempts.append(("chat.postMessage", {"channel": origin.user_id}))  # the bot's DM with the person
        tried = []
        for method, where in attempts:
            try:
                await self.slack.api_call(method, json={**where, "text": text, "blocks": blocks,
                                                        "unfurl_links": False, "unfurl_media": False})
                return True, f"{method} {where['channel']}"
            except Exception as exc:
                error = getattr(getattr(exc, "response", None), "get", lambda _k: None)("error") or type(exc).__name__
                tried.append(f"{method} {where['channel']}: {error}")
        return False, "failed too (" + "; ".join(tried) + ")"


class Responder:
    """What handlers call as ``respond``: Bolt's signature, but it only queues the answer."""

    def __init__(self, deliveries: ResponseDeliveries, origin: Origin) -> None:
        self._deliveries = deliveries
        self.origin = origin
        self.response_url = origin.response_url

    async def __call__(self, text: str | dict = "", blocks: list | None = None, response_type: str | None = None,
                       replace_original: bool | None = None, delete_original: bool | None = None,
                       thread_ts: str | None = None, **extra: Any) -> None:
        message: dict[str, Any] = dict(text) if isinstance(text, dict) else {"text": text}
        for key, value in (("blocks", blocks), ("response_type", response_type),
                           ("replace_original", replace_original), ("delete_original", delete_original),
                           ("thread_ts", thread_ts), *extra.items()):
            if value is not None:
                message[key] = value
        self._deliveries.send(self.origin, message)
