"""The HTTP server: Slack's request URL plus the bot's own health, readiness and metrics."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qs

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.common import metrics
from bot.common.redact import redact
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack import signing

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
MAX_BODY = 64 * 1024


def build_web_app(rt: Runtime, bolt: AsyncApp) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        raw = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not signing.is_valid(rt.settings.SLACK_SIGNING_SECRET or "", raw, timestamp, signature):
            metrics.UNAUTHENTICATED.inc()
            logger.warning("rejected request with a missing, wrong or stale signature",
                           extra={"remote": request.remote})
            return web.json_response({"error": "invalid request"}, status=401)
        problem, kind, name = _inspect(raw, request.content_type)
        if problem:
            rt.audit.received(kind="invalid", name="request", outcome="rejected", detail=problem,
                              arguments=raw[:200].decode("utf-8", "replace"))
            return web.json_response({"error": t(f"common.{problem}", rt.config.i18n.language)}, status=400)
        bolt_request = AsyncBoltRequest(
            body=raw.decode("utf-8"), query=request.query_string,
            headers={k.lower(): [v] for k, v in request.headers.items()},
        )
        response = await bolt.async_dispatch(bolt_request)
        metrics.ACK_SECONDS.labels(kind).observe(time.perf_counter() - started)
        metrics.ACKS.labels(kind, name).inc()
        headers = {k: v[0] for k, v in response.headers.items() if v and k.lower() != "content-length"}
        return web.Response(status=response.status, body=response.body, headers=headers)

    async def liveness(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readiness(_request: web.Request) -> web.Response:
        try:
            await rt.store.ping()
        except Exception as exc:
            return web.json_response({"status": "unavailable", "reason": "database unreachable",
                                      "detail": redact(f"{type(exc).__name__}: {exc}")[:300]}, status=503)
        return web.json_response({"status": "ready"})

    async def prometheus(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_post(SLACK_PATH, slack_events)
    app.router.add_get("/health", liveness)
    app.router.add_get("/ready", readiness)
    app.router.add_get("/metrics", prometheus)
    for method, path, handler in rt.web_routes:
        app.router.add_route(method, path, handler)
    return app


def _inspect(raw: bytes, content_type: str) -> tuple[str | None, str, str]:
    """(what is wrong with a signed body or None, "command"/"action", the command or action id)."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", "", ""
    if content_type != "application/x-www-form-urlencoded":
        return "not_form", "", ""
    form = parse_qs(body)
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except ValueError:
            return "bad_payload", "", ""
        if not isinstance(payload, dict):
            return "bad_payload", "", ""
        actions = payload.get("actions") or [{}]
        action_id = actions[0].get("action_id", "") if isinstance(actions[0], dict) else ""
        return None, "action", str(action_id)[:64]
    if "command" in form:
        return None, "command", form["command"][0][:64]
    return "not_form", "", ""
