"""Posting and editing the bot's own channel messages: the one way the bot posts.

Every post (``deliver``, ``post``, ``post_in``) and edit (``update``, and the pacer's ``edit``) goes
through here, and each way Slack can refuse has one remedy, tried in this order:

- ``not_in_channel``: join the (public) channel once and post again;
- HTTP 429 past the client's own three retries: wait ``Retry-After`` (at most ``RATE_LIMIT_WAIT``), once more;
- HTTP 5xx or Slack's "try again" errors: wait ``RETRY_PAUSE``, once more;
- ``msg_too_long``, ``invalid_blocks`` and the like: the text alone, shortened, in the same place;
- anything else (archived, not visible, still down): the same message in ``elsewhere`` (the incidents
  channel, or the incident's own) under a note saying why and what to do.

A post that timed out or lost its connection is never sent again: Slack may have taken it, and a
second copy is worse than a late one. An edit that cannot be made goes, as text, in the message's
thread (``update``), or as a copy kept current elsewhere (the pacer, through ``fail_over``).

Whatever did not land cleanly where it was asked is logged, counted in
``chatops_slack_post_failures_total`` and audited (outcome ``post_failed:<failure>:<Slack's error>``);
the caller puts it on its own record (an incident's timeline). ``retry=False`` is for posts a person
is waiting on with their own remedy (a change request posts itself in the ops channel or is
cancelled, and the requester is told): one try, and the failure is theirs to tell.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.common import metrics
from bot.common.redact import redact
from bot.i18n import t
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

RATE_LIMIT_WAIT = 30.0  # the longest Retry-After waited out here (the client has already waited three)
RETRY_PAUSE = 1.0  # before the one retry after a 5xx
SHORTENED_TEXT = 3000  # the plain-text version of a message Slack refused as too long or malformed
MAX_BLOCKS = 50  # per message (bot.render.blocks.MAX_BLOCKS; bot.slack sits below bot.render)
MAX_EDIT_TEXT = 3900  # chat.update answers msg_too_long above 4,000 characters

# Slack's words for "we failed, try again" (the OpenAPI error enums of chat.postMessage/chat.update).
_TRY_AGAIN = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# No answer: Slack may have taken the post. Posts are not sent again; edits (idempotent) are.
UNSURE = frozenset({"timeout", "unreachable"})
# The message itself was refused: the same text and blocks would be refused anywhere.
CONTENT = frozenset({"msg_too_long", "invalid_blocks", "invalid_blocks_format", "invalid_arguments",
                     "too_many_attachments", "missing_text_fallback", "no_text", "markdown_text_conflict"})
Audit = Callable[..., None]


@dataclass(frozen=True)
class Posted:
    """What came of a post or an edit: ``channel`` and ``ts`` where it landed, else ``error``.

    ``error`` is Slack's answer when it did not land cleanly where it was asked (even when a fallback
    got it out); ``fallback`` says how it got out then: ``trimmed`` (shortened plain text, in place),
    ``thread`` (an edit's news in the message's thread), ``moved`` (posted in ``channel``, elsewhere)."""

    channel: str | None = None
    ts: str | None = None
    error: str | None = None
    fallback: str | None = None
    retry_after: float | None = None

    def __bool__(self) -> bool:
        return self.ts is not None

    @property
    def in_place(self) -> bool:
        """Landed where it was asked (shortened, perhaps)."""
        return self.ts is not None and self.fallback in (None, "trimmed")

    @property
    def failure(self) -> str | None:
        """The kind of failure, for a sentence a person can act on (None when it went through):
        ``dm`` (a direct message or group DM the bot is not in), ``private`` (a channel the bot cannot
        see: private and without it), ``not_in_channel``, ``archived``, ``unavailable`` (Slack answered
        5xx, 429 or not at all) or ``refused`` (any other error)."""
        if self.error is None:
            return None
        if self.error == "channel_not_found":
            return "dm" if (self.channel or "")[:1] in ("D", "G") else "private"
        if self.error == "not_in_channel":
            return "not_in_channel"
        if self.error in ("is_archived", "is_inactive"):  # is_inactive: chat.update in an archived channel
            return "archived"
        if self.error in UNSURE | _TRY_AGAIN | {"ratelimited"} or self.error.startswith("http_5"):
            return "unavailable"
        return "refused"

    @property
    def transient(self) -> bool:
        """Slack was down or busy: the same call may go through in a moment."""
        return self.error is not None and (self.error in _TRY_AGAIN or self.error.startswith("http_5"))


@dataclass(frozen=True)
class Elsewhere:
    """A copy of a message posted in another channel because the original could not be edited; the
    note on top says why, and stays when the copy is edited."""

    channel: str
    ts: str
    note: str

    def dress(self, text: str, blocks: list[dict] | None) -> tuple[str, list[dict] | None]:
        return _with_note(self.note, text, blocks, limit=MAX_EDIT_TEXT)


# ---- posting ---------------------------------------------------------------------------------------------


async def post(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
               thread_ts: str | None = None, *, what: str = "message", subject: str | None = None,
               elsewhere: str | None = None) -> str | None:
    """``deliver``; the ts when the message landed where it was asked (else None: moved or lost)."""
    posted = await deliver(rt, channel, text, blocks, thread_ts, what=what, subject=subject, elsewhere=elsewhere)
    return posted.ts if posted.in_place else None


async def post_in(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
                  thread_ts: str | None = None, *, what: str = "message",
                  subject: str | None = None) -> tuple[str, str] | None:
    """``post`` returning (channel id, ts): ``channel`` may be a name, as in the services file."""
    posted = await deliver(rt, channel, text, blocks, thread_ts, what=what, subject=subject)
    return (posted.channel, posted.ts) if posted.in_place else None


async def deliver(rt: Runtime, channel: str, text: str, blocks: list[dict] | None = None,
                  thread_ts: str | None = None, *, what: str = "message", subject: str | None = None,
                  elsewhere: str | None = None, retry: bool = True) -> Posted:
    """chat.postMessage with the remedies above; ``elsewhere`` is where it goes when it cannot go here.

    Returns where it landed (``fallback`` says if not cleanly in place) or why it did not."""
    posted = await _landed(rt, channel, text, blocks, thread_ts, retry=retry)
    if posted.error is None:
        return posted
    if not posted and movable(posted) and elsewhere and elsewhere != channel:
        moved = await _move(rt, posted, text, blocks, elsewhere, edit=False)
        posted = moved or posted
    record(rt.audit.received, what=what, channel=channel, subject=subject, outcome=posted)
    return posted


def movable(failed: Posted) -> bool:
    """Whether the same message could go out somewhere else: not when Slack may have taken it already,
    nor when the message itself was refused."""
    return failed.error not in UNSURE | CONTENT


async def _landed(rt: Runtime, channel: str, text: str, blocks: list[dict] | None, thread_ts: str | None, *,
                  retry: bool) -> Posted:
    """Posted in place: joined if need be, retried once after a 429 or a 5xx, shortened if refused."""
    posted = await _post_once(rt, channel, text, blocks, thread_ts)
    if posted or not retry:
        return posted
    posted = await _again(posted, lambda: _post_once(rt, channel, text, blocks, thread_ts), idempotent=False)
    if not posted and posted.error in CONTENT and (short := shortened(text)):
        trimmed = await _post_once(rt, channel, short, None, thread_ts)
        if trimmed:
            return replace(trimmed, error=posted.error, fallback="trimmed")
    return posted


async def _post_once(rt: Runtime, channel: str, text: str, blocks: list[dict] | None,
                     thread_ts: str | None) -> Posted:
    """chat.postMessage, joining a public channel once on ``not_in_channel``."""
    posted = await _call(rt.slack, "chat.postMessage", channel=channel, text=text, blocks=blocks,
                         thread_ts=thread_ts, unfurl_links=False, unfurl_media=False)
    if posted.error == "not_in_channel" and await _join(rt, channel):
        posted = await _call(rt.slack, "chat.postMessage", channel=channel, text=text, blocks=blocks,
                             thread_ts=thread_ts, unfurl_links=False, unfurl_media=False)
    return posted


async def _again(failed: Posted, attempt: Callable[[], Awaitable[Posted]], *, idempotent: bool) -> Posted:
    """One more try when waiting can help: after ``Retry-After`` (within bounds), a 5xx, or (for an
    edit only) no answer at all."""
    if failed.error == "ratelimited":
        wait = failed.retry_after or 1.0
        if wait > RATE_LIMIT_WAIT:
            return failed
        await asyncio.sleep(wait)
    elif failed.transient or (idempotent and failed.error in UNSURE):
        await asyncio.sleep(RETRY_PAUSE)
    else:
        return failed
    return await attempt()


async def _move(rt: Runtime, failed: Posted, text: str, blocks: list[dict] | None, elsewhere: str, *,
                edit: bool) -> Posted | None:
    """The message in ``elsewhere``, under a note saying where it should have been and why."""
    note = fallback_note(rt, failed, elsewhere, edit=edit)
    body, dressed = _with_note(note, text, blocks, limit=MAX_EDIT_TEXT if edit else None)
    moved = await _post_once(rt, elsewhere, body, dressed, None)
    if not moved:
        logger.error("could not post elsewhere either", extra={"channel": elsewhere, "error": moved.error})
        return None
    if blocks and dressed is blocks:  # no room for the note on top: it goes in the thread
        await _post_once(rt, moved.channel or elsewhere, note, None, moved.ts)
    return replace(moved, error=failed.error, fallback="moved")


def fallback_note(rt: Runtime, failed: Posted, elsewhere: str, *, edit: bool) -> str:
    """"I couldn't post this in #x: it is archived. Unarchive it…", in the language of ``elsewhere``."""
    lang = rt.language_for(elsewhere)
    failure = failed.failure or "refused"
    bot = rt.bot_user_id or ""
    return t("post.moved.edit" if edit else "post.moved.post", lang, channel=mention(failed.channel),
             why=t(f"post.why.{failure}", lang, error=failed.error or ""),
             todo=t(f"post.todo.{failure}", lang, bot=bot))


def _with_note(note: str, text: str, blocks: list[dict] | None, *,
               limit: int | None) -> tuple[str, list[dict] | None]:
    body = f"{note}\n{text}"
    if limit is not None and len(body) > limit:
        body = f"{note}\n{shortened(text, max(100, limit - len(note) - 1))}"
    if not blocks or len(blocks) >= MAX_BLOCKS:
        return body, blocks
    return body, [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}, *blocks]


def shortened(text: str, limit: int = SHORTENED_TEXT) -> str:
    """``text`` cut to ``limit`` characters without splitting a Slack entity (``<@U…>``) or an escape
    (``&amp;``), and with no code span left open; an ellipsis says it was cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 4)]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    if (amp := cut.rfind("&")) >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    cut = cut.rstrip() + "…"
    if cut.count("```") % 2:
        return cut + "```"
    if cut.replace("```", "").count("`") % 2:
        return cut + "`"
    return cut


def mention(channel: str | None) -> str:
    """How to name a channel in a sentence: an ID as a link, a name as ``#name``."""
    if not channel:
        return ""
    return f"<#{channel}>" if channel[:1] in ("C", "G") and channel.isupper() else "#" + channel.lstrip("#")


# ---- editing ---------------------------------------------------------------------------------------------


async def edit(slack: AsyncWebClient, channel: str, ts: str, text: str, blocks: list[dict] | None) -> Posted:
    """One chat.update (the pacer schedules its own retries)."""
    return await _call(slack, "chat.update", channel=channel, ts=ts, text=text, blocks=blocks or [])


async def update(rt: Runtime, channel: str, ts: str, text: str, blocks: list[dict] | None = None, *,
                 what: str = "message", subject: str | None = None, elsewhere: str | None = None) -> Posted:
    """chat.update with the remedies above; a message that cannot be edited gets the news as text in its
    thread, or (its channel closed) in ``elsewhere``."""
    edited = await edit(rt.slack, channel, ts, text, blocks)
    if edited:
        return edited
    edited = await _again(edited, lambda: edit(rt.slack, channel, ts, text, blocks), idempotent=True)
    if edited:
        return edited
    if edited.error in CONTENT and (short := shortened(text, MAX_EDIT_TEXT)):
        trimmed = await edit(rt.slack, channel, ts, short, [])
        if trimmed:
            edited = replace(trimmed, error=edited.error, fallback="trimmed")
    if not edited:
        news = await _landed(rt, channel, text, None, ts, retry=False)
        if news:
            edited = replace(news, error=edited.error, fallback="thread")
        elif elsewhere and elsewhere != channel and movable(news):
            edited = await _move(rt, edited, text, None, elsewhere, edit=True) or edited
    record(rt.audit.received, what=what, channel=channel, subject=subject, outcome=edited, edit=True)
    return edited


async def fail_over(rt: Runtime, failed: Posted, text: str, blocks: list[dict] | None, *, what: str,
                    subject: str | None = None, elsewhere: str | None = None) -> Elsewhere | None:
    """A live message (a summary) the pacer could not edit: a copy in ``elsewhere``, which the pacer keeps
    current from then on; recorded either way. None when there is no other place (or it failed too)."""
    if not failed and failed.error not in CONTENT and elsewhere and elsewhere != failed.channel:
        note = fallback_note(rt, failed, elsewhere, edit=True)
        body, dressed = _with_note(note, text, blocks, limit=MAX_EDIT_TEXT)
        copy = await _post_once(rt, elsewhere, body, dressed, None)
        if copy:
            record(rt.audit.received, what=what, channel=failed.channel, subject=subject, edit=True,
                   outcome=replace(copy, error=failed.error, fallback="moved"))
            return Elsewhere(copy.channel or elsewhere, copy.ts or "", note)
    record(rt.audit.received, what=what, channel=failed.channel, subject=subject, outcome=failed, edit=True)
    return None


# ---- one Web API call --------------------------------------------------------------------------------------


async def _call(slack: AsyncWebClient, method: str, **params: Any) -> Posted:
    channel = params.get("channel")
    try:
        answer = await slack.api_call(method, json={k: v for k, v in params.items() if v is not None})
        metrics.SLACK_CALLS.labels(method, "ok").inc()
        return Posted(answer.get("channel") or channel, answer.get("ts") or params.get("ts"))
    except SlackApiError as exc:
        error = _error_of(exc)
        metrics.SLACK_CALLS.labels(method, error).inc()
        logger.warning("%s failed", method, extra={"channel": channel, "error": error})
        return Posted(channel, None, error, retry_after=_retry_after(exc) if error == "ratelimited" else None)
    except Exception as exc:
        error = "timeout" if isinstance(exc, TimeoutError) else "unreachable"
        metrics.SLACK_CALLS.labels(method, error).inc()
        logger.warning("%s failed: %s", method, redact(str(exc))[:200], extra={"channel": channel, "error": error})
        return Posted(channel, None, error)


def _error_of(exc: SlackApiError) -> str:
    """Slack's error code; ``http_<status>`` for an HTTP 5xx (whatever its body says) or a bodiless error."""
    status = getattr(exc.response, "status_code", 200)
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if status == 429:
        return "ratelimited"
    if status >= 500 or not error:
        return f"http_{status}"
    return str(error)


def _retry_after(exc: SlackApiError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


# ---- telling ---------------------------------------------------------------------------------------------


def record(audit: Audit, *, what: str, channel: str | None, outcome: Posted, subject: str | None = None,
           edit: bool = False, method: str | None = None) -> None:
    """A post or edit that did not land cleanly where it was asked: logged, counted, audited (no secret:
    only Slack's error code and where it went)."""
    failure = replace(outcome, channel=channel).failure or "refused"  # of where it was asked, not where it went
    how = outcome.fallback or "none"
    where = {"moved": f"posted in {outcome.channel} instead", "trimmed": "posted shortened, as plain text",
             "thread": "posted in the message's thread", "none": "not posted"}[how]
    method = method or ("chat.update" if edit else "chat.postMessage")
    detail = f"{method} in {channel}: {outcome.error}; {where}"
    metrics.SLACK_POST_FAILURES.labels(what, failure, how).inc()
    log = logger.warning if how != "none" else logger.error
    log("%s not posted as asked: %s", what, detail, extra={"channel": channel, "error": outcome.error})
    audit(kind="system", name=f"post:{what}", outcome=f"post_failed:{failure}:{outcome.error}"[:64],
          channel_id=channel, subject=subject, detail=redact(detail)[:500])


async def _join(rt: Runtime, channel: str) -> bool:
    try:
        await rt.slack.conversations_join(channel=channel)
        return True
    except Exception as exc:
        logger.warning("conversations.join failed: %s", exc, extra={"channel": channel})
        return False
