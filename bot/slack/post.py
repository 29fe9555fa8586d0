"""Posting and updating the bot's own channel messages: the one way the bot posts.

Failures are logged and counted, never raised; ``deliver`` says why a post failed (Slack's error code,
``http_<status>``, ``timeout`` or ``unreachable``) so a caller can fall back and tell the person instead
of leaving something invisible behind."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.common import metrics
from bot.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Posted:
    """What came of one chat.postMessage: ``channel`` and ``ts`` when it was posted, else ``error``."""

    channel: str | None = None
    ts: str | None = None
    error: str | None = None

    def __bool__(self) -> bool:
        return self.ts is not None

    @property
    def failure(self) -> str | None:
        """The kind of failure, for a sentence a person can act on (None when posted):
        ``dm`` (a direct message or group DM the bot is not in), ``private`` (a channel the bot cannot
        see: private and without it), ``not_in_channel``, ``archived``, ``unavailable`` (Slack answered
        5xx or not at all) or ``refused`` (any other error)."""
        if self:
            return None
        if self.error == "channel_not_found":
            return "dm" if (self.channel or "")[:1] in ("D", "G") else "private"
        if self.error == "not_in_channel":
            return "not_in_channel"
        if self.error == "is_archived":
            return "archived"
        if self.error in ("unreachable", "timeout", "internal_error", "fatal_error", "service_unavailable",
                          "request_timeout", "ratelimited") or (self.error or "").startswith("http_5"):
            return "unavailable"
        return "refused"


async def post(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
               thread_ts: str | None = None) -> str | None:
    """chat.postMessage; joins a public channel once when the bot is not in it. Returns the ts."""
    return (await deliver(rt, channel, text, blocks, thread_ts)).ts


async def post_in(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
                  thread_ts: str | None = None) -> tuple[str, str] | None:
    """``post`` returning (channel id, ts): ``channel`` may be a name, as in the services file."""
    posted = await deliver(rt, channel, text, blocks, thread_ts)
    return (posted.channel, posted.ts) if posted else None


async def deliver(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
                  thread_ts: str | None = None) -> Posted:
    """chat.postMessage, joining a public channel once on ``not_in_channel``; says why when it fails."""
    for attempt in (1, 2):
        try:
            answer = await rt.slack.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                                     unfurl_links=False, unfurl_media=False)
            metrics.SLACK_CALLS.labels("chat.postMessage", "ok").inc()
            return Posted(answer["channel"], answer["ts"])
        except SlackApiError as exc:
            error = _error_of(exc)
            metrics.SLACK_CALLS.labels("chat.postMessage", error).inc()
            if attempt == 1 and error == "not_in_channel" and await _join(rt, channel):
                continue
            logger.error("chat.postMessage failed", extra={"channel": channel, "error": error})
            return Posted(channel, None, error)
        except Exception as exc:
            error = "timeout" if isinstance(exc, TimeoutError) else "unreachable"
            metrics.SLACK_CALLS.labels("chat.postMessage", error).inc()
            logger.error("chat.postMessage failed: %s", exc, extra={"channel": channel})
            return Posted(channel, None, error)
    return Posted(channel, None, "not_in_channel")


def _error_of(exc: SlackApiError) -> str:
    """Slack's error code; ``http_<status>`` for an HTTP 5xx (whatever its body says) or a bodiless error."""
    status = getattr(exc.response, "status_code", 200)
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if status >= 500 or not error:
        return f"http_{status}"
    return str(error)


async def update(rt: Runtime, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> bool:
    try:
        await rt.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or [])
        metrics.SLACK_CALLS.labels("chat.update", "ok").inc()
        return True
    except SlackApiError as exc:
        error = exc.response.get("error")
        metrics.SLACK_CALLS.labels("chat.update", error or "error").inc()
        logger.error("chat.update failed", extra={"channel": channel, "ts": ts, "error": error})
    except Exception as exc:
        metrics.SLACK_CALLS.labels("chat.update", "unreachable").inc()
        logger.error("chat.update failed: %s", exc, extra={"channel": channel, "ts": ts})
    return False


async def ephemeral(rt: Runtime, channel: str, user: str, text: str) -> bool:
    try:
        await rt.slack.chat_postEphemeral(channel=channel, user=user, text=text)
        return True
    except Exception as exc:
        logger.error("chat.postEphemeral failed: %s", exc, extra={"channel": channel})
        return False


async def _join(rt: Runtime, channel: str) -> bool:
    try:
        await rt.slack.conversations_join(channel=channel)
        return True
    except Exception as exc:
        logger.warning("conversations.join failed: %s", exc, extra={"channel": channel})
        return False
