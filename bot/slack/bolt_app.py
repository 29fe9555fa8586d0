"""The Bolt AsyncApp: authorization without I/O, the audit middleware and the error handler.

Nothing before ``ack()`` does I/O: the bot's identity comes from one ``auth.test`` at startup,
audit rows are queued to a writer task, and replays are caught in memory first (the database
decides again after the ack).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.common import log, metrics
from bot.common.responses import Origin
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack.request import InvalidRequest, RequestInfo

logger = logging.getLogger(__name__)



def build_bolt_app(rt: Runtime, register: Callable[[AsyncApp], None]) -> AsyncApp:
    """Bolt with the bot's middleware and error handler; ``register`` adds the listeners (``ChatOps.register``)."""
    async def authorize(enterprise_id=None, team_id=None, **_kwargs) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id or rt.team_id,
                               bot_token=rt.settings.SLACK_BOT_TOKEN, bot_user_id=rt.bot_user_id)

    app = AsyncApp(
        # Bolt gives each request a client with the token from ``authorize``; ours carries none.
        client=AsyncWebClient(base_url=rt.settings.SLACK_API_URL, timeout=rt.settings.CHATOPS_SLACK_TIMEOUT_SECONDS,
                              retry_handlers=list(rt.slack.retry_handlers)),
        signing_secret=rt.settings.SLACK_SIGNING_SECRET or "socket-mode",
        authorize=authorize,
        request_verification_enabled=False,  # bot.slack.http verifies the raw bytes before Bolt parses them
        raise_error_for_unhandled_request=True,
        # Our listeners only parse, queue and ack, so the response can wait for them; this skips
        # Bolt's 10 ms polling for the ack that the default mode adds to every request.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt.app"),
    )

    @app.middleware
    async def audit_and_dedupe(body, context, next):
        cid = log.new_correlation_id()
        log.correlation_id.set(cid)
        try:
            info = RequestInfo.from_body(body)
        except InvalidRequest as problem:  # Socket Mode: over HTTP, bot.slack.http refused it already
            metrics.REJECTED.labels(problem.key).inc()
            rt.audit.received(kind="invalid", name="request", outcome="rejected", detail=str(problem),
                              correlation_id=cid)
            text = t(f"common.{problem.key}", rt.config.i18n.language, field=problem.field)
            return BoltResponse(status=200, body=_ephemeral(text))
        context["correlation_id"] = cid
        context["request_info"] = info
        # Answers go through bot.common.responses (short timeouts, a fallback, outside the pool), not Bolt's.
        context["respond"] = rt.responses.responder(Origin(info.response_url, info.user_id, info.channel_id, cid))
        context["lang"] = rt.language_for(info.channel_id)
        # What only this person sees: their Slack locale once known (looked up after the ack).
        context["user_lang"] = rt.user_languages.cached(info.user_id) or context["lang"]
        rt.user_languages.warm(info.user_id)
        metrics.REQUESTS.labels(info.kind, info.name).inc()
        rt.audit.received(kind=info.kind, name=info.name or "?", team_id=info.team_id, user_id=info.user_id,
                          channel_id=info.channel_id, arguments=info.arguments, correlation_id=cid,
                          trigger_id=info.trigger_id)
        logger.info("request", extra={"kind": info.kind, "request": info.name, "user": info.user_id})
        if info.trigger_id and not rt.recent_triggers.first_time(info.trigger_id):
            metrics.REPLAYS.inc()
            rt.audit.outcome(cid, "replay")
            return BoltResponse(status=200, body=_ephemeral(t("common.replayed", context["user_lang"])))
        return await next()

    @app.error
    async def on_error(error, body, context, respond):
        lang = context.get("user_lang") or context.get("lang")
        cid = context.get("correlation_id")
        if isinstance(error, BoltUnhandledRequestError):
            try:
                info = RequestInfo.from_body(body or {})
            except InvalidRequest:
                info = RequestInfo.from_body({})
            if cid:
                rt.audit.outcome(cid, "unhandled")
            if info.kind == "view":  # a modal this bot did not open: an empty 200 closes it
                return BoltResponse(status=200, body="")
            key = "common.unknown_action" if info.kind == "action" else "common.unknown_command"
            text = t(key, lang, command=info.name)
            if info.kind == "action" and info.response_url:
                rt.jobs.submit("unhandled", lambda: respond(text=text, response_type="ephemeral",
                                                            replace_original=False))
                return BoltResponse(status=200, body="")
            return BoltResponse(status=200, body=_ephemeral(text))
        metrics.ERRORS.labels("listener").inc()
        logger.exception("listener failed", exc_info=error)
        if cid:
            rt.audit.outcome(cid, "error", str(error))
        return BoltResponse(status=200, body=_ephemeral(t("common.failed", lang, command="", error="")))

    register(app)
    return app


def _ephemeral(text: str) -> str:
    return json.dumps({"response_type": "ephemeral", "text": text})
