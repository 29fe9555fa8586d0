"""Posting and updating the bot's own channel messages, with failures logged, never raised."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.common import metrics
from bot.runtime import Runtime

logger = logging.getLogger(__name__)


async def post(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
               thread_ts: str | None = None) -> str | None:
    """chat.postMessage; joins a public channel once when the bot is not in it. Returns the ts."""
    posted = await post_in(rt, channel, text, blocks, thread_ts)
    return posted[1] if posted else None


async def post_in(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
                  thread_ts: str | None = None) -> tuple[str, str] | None:
    """``post`` returning (channel id, ts): ``channel`` may be a name, as in the services file."""
    for attempt in (1, 2):
        try:
            answer = await rt.slack.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                                     unfurl_links=False, unfurl_media=False)
            metrics.SLACK_CALLS.labels("chat.postMessage", "ok").inc()
            return answer["channel"], answer["ts"]
        except SlackApiError as exc:
            error = exc.response.get("error")
            metrics.SLACK_CALLS.labels("chat.postMessage", error or "error").inc()
            if attempt == 1 and error == "not_in_channel" and await _join(rt, channel):
                continue
            logger.error("chat.postMessage failed", extra={"channel": channel, "error": error})
            return None
        except Exception as exc:
            metrics.SLACK_CALLS.labels("chat.postMessage", "unreachable").inc()
            logger.error("chat.postMessage failed: %s", exc, extra={"channel": channel})
            return None
    return None


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
