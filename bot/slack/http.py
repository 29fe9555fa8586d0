"""The HTTP server: Slack's request URL plus the bot's own health, readiness and metrics.

A slow or idle client cannot hold the server: request headers must arrive within the header timeout
(aiohttp's keep-alive timer closes a connection whose next request has not been parsed by then),
a body within the body timeout (408), and connections past the bound are answered 503 and closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from urllib.parse import parse_qs

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.common import json_depth, metrics
from bot.common.identity import VERSION
from bot.common.redact import redact
from bot.i18n import t
from bot.runtime import Runtime
from bot.slack import signing
from bot.slack.request import InvalidRequest, RequestInfo

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
MAX_BODY = 64 * 1024
HANDLED_EVENTS = ("app_home_opened",)  # the manifest's bot_events: the Home tab


_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
            b"Retry-After: 1\r\n\r\n")


class _Refuse(asyncio.Protocol):
    """One connection too many: a 503 and the door closed, without reading anything."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(_REFUSAL)  # type: ignore[attr-defined]
        transport.close()


class _ConnectionLimit:
    """The protocol factory aiohttp's sites call per accepted connection, refusing past ``limit``."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self._limit = limit

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self._server.connections) >= self._limit:
            metrics.HTTP_REFUSED.inc()
            return _Refuse()
        return self._server()

    def __getattr__(self, name: str):  # everything else (shutdown, connections…) is the server's
        return getattr(self._server, name)


class BoundedRunner(web.AppRunner):
    """aiohttp's AppRunner with the header (keep-alive) timeout and the connection bound applied."""

    def __init__(self, app: web.Application, *, header_seconds: float, max_connections: int) -> None:
        # lingering_time=0: a client that stopped mid-body is not waited for after its 408.
        super().__init__(app, access_log=None, keepalive_timeout=header_seconds, lingering_time=0)
        self._max_connections = max_connections

    async def _make_server(self) -> web.Server:
        return _ConnectionLimit(await super()._make_server(), self._max_connections)  # type: ignore[return-value]


def build_runner(rt: Runtime, app: web.Application) -> BoundedRunner:
    """The runner for ``app`` with the limits from the settings (``chatops serve`` and the sandbox)."""
    settings = rt.settings
    return BoundedRunner(app, header_seconds=settings.CHATOPS_HTTP_HEADER_TIMEOUT_SECONDS,
                         max_connections=settings.CHATOPS_HTTP_MAX_CONNECTIONS)


def build_web_app(rt: Runtime, bolt: AsyncApp, routes: Iterable[tuple] = ()) -> web.Application:
    """Slack events, liveness, readiness and metrics, plus the ``routes`` the composition root adds."""
    body_seconds = rt.settings.CHATOPS_HTTP_BODY_TIMEOUT_SECONDS

    @web.middleware
    async def body_in_time(request: web.Request, handler):
        """Read the whole body (at most MAX_BODY) within the body timeout before any handler runs.

        A body announced as too large is left to the handler (which refuses it in its own words),
        bounded by the same timeout."""
        too_large = (request.content_length or 0) > request.client_max_size
        try:
            async with asyncio.timeout(body_seconds):
                if too_large:
                    return await handler(request)
                if request.can_read_body:
                    await request.read()
        except TimeoutError:
            metrics.HTTP_BODY_TIMEOUTS.inc()
            return web.json_response({"error": "request body too slow"}, status=408, headers={"Connection": "close"})
        return await handler(request)

    app = web.Application(client_max_size=MAX_BODY, middlewares=[body_in_time])

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        raw = await request.read()
        if _is_ssl_check(raw, request.content_type):
            # Slack checks a command URL's certificate with ``ssl_check=1`` and expects 200; nothing is
            # run, so it is answered before the signature check, as Bolt's SslCheck middleware does.
            return web.Response(status=200)
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not signing.is_valid(rt.settings.SLACK_SIGNING_SECRET or "", raw, timestamp, signature):
            # A stranger's request: one warning line, never a traceback.
            metrics.UNAUTHENTICATED.inc()
            logger.warning("rejected request with a missing, wrong or stale signature",
                           extra={"remote": request.remote})
            return web.json_response({"error": "invalid request"}, status=401)
        if request.content_type == "application/json" and (
                answer := _event_delivery(rt, raw, request.headers.get("X-Slack-Retry-Num"))) is not None:
            return answer
        problem, info = _inspect(raw, request.content_type)
        if problem is not None:
            metrics.REJECTED.labels(problem.key).inc()
            rt.audit.received(kind="invalid", name="request", outcome="rejected", detail=str(problem),
                              arguments=raw[:200].decode("utf-8", "replace"))
            text = t(f"common.{problem.key}", rt.config.i18n.language, field=problem.field)
            return web.json_response({"error": text}, status=400)
        kind, name = info.kind, info.name[:64]
        # aiohttp keeps the body it read, so Bolt sees exactly the bytes whose signature was checked.
        response = await bolt.async_dispatch(await to_bolt_request(request))
        metrics.ACK_SECONDS.labels(kind).observe(time.perf_counter() - started)
        metrics.ACKS.labels(kind, name).inc()
        return await to_aiohttp_response(response)

    async def liveness(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": VERSION})

    async def readiness(_request: web.Request) -> web.Response:
        try:
            await rt.store.ping()
        except Exception as exc:
            return web.json_response({"status": "unavailable", "reason": "database unreachable",
                                      "detail": redact(f"{type(exc).__name__}: {exc}")[:300]}, status=503)
        stuck = rt.audit.stuck()
        if stuck:
            return web.json_response({"status": "unavailable", "reason": "audit writer stuck", "detail": stuck,
                                      "backlog": rt.audit.backlog}, status=503)
        return web.json_response({"status": "ready"})

    async def prometheus(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_post(SLACK_PATH, slack_events)
    app.router.add_get("/health", liveness)
    app.router.add_get("/ready", readiness)
    app.router.add_get("/metrics", prometheus)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app


def _is_ssl_check(raw: bytes, content_type: str) -> bool:
    if content_type != "application/x-www-form-urlencoded" or len(raw) > 512:
        return False
    form = parse_qs(raw.decode("utf-8", "replace"))
    return form.get("ssl_check") == ["1"] and "command" not in form and "payload" not in form


def _event_delivery(rt: Runtime, raw: bytes, retry_num: str | None) -> web.Response | None:
    """An Events API delivery the app does not act on, answered here; None when the body is not one, or is
    the first delivery of an event in HANDLED_EVENTS (the manifest's bot_events), which goes on to Bolt.
    Each other one, retries included (the first was acknowledged and queued before any work), is answered
    2xx: Slack retries a delivery that gets anything else (X-Slack-Retry-Num 1–3) and turns off
    subscriptions that keep failing. ``url_verification`` gets its ``challenge`` back."""
    try:
        body = json_depth.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, json_depth.TooDeep):
        return None
    if not isinstance(body, dict) or body.get("type") not in ("url_verification", "event_callback"):
        return None
    if body.get("type") == "url_verification" and isinstance(body.get("challenge"), str):
        return web.json_response({"challenge": body["challenge"][:200]})
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    if body.get("type") == "event_callback" and event.get("type") in HANDLED_EVENTS and not retry_num:
        return None  # checked by _inspect, then handled by the app's listener (a retry was handled already)
    name = str(event.get("type") or body.get("type") or "unknown")[:64]
    rt.audit.received(kind="event", name=name, outcome="ignored",
                      detail=f"retry {retry_num[:2]}" if retry_num else "")
    return web.Response(status=200)


def _inspect(raw: bytes, content_type: str) -> tuple[InvalidRequest | None, RequestInfo | None]:
    """(what is wrong with a signed body, or None and the request's RequestInfo).

    Everything Bolt will parse is checked first: UTF-8, the form, the payload's JSON nesting depth
    (json.loads recurses per level), and the fields RequestInfo validates."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidRequest("invalid_utf8", ""), None
    if content_type == "application/json":  # the Events API: an event the app handles (HANDLED_EVENTS)
        try:
            fields = json_depth.loads(body)
        except json_depth.TooDeep:
            return InvalidRequest("too_deep", "body"), None
        except ValueError:
            return InvalidRequest("bad_payload", "body"), None
        if not isinstance(fields, dict):
            return InvalidRequest("bad_payload", "body"), None
        if fields.get("type") != "event_callback":
            return InvalidRequest("not_form", str(fields.get("type"))[:64]), None
        try:
            return None, RequestInfo.from_body(fields)
        except InvalidRequest as problem:
            return problem, None
    if content_type != "application/x-www-form-urlencoded":
        return InvalidRequest("not_form", ""), None
    form = {key: values[0] for key, values in parse_qs(body).items()}
    if "payload" in form:
        try:
            fields = json_depth.loads(form["payload"])
        except json_depth.TooDeep:
            return InvalidRequest("too_deep", "payload"), None
        except ValueError:
            return InvalidRequest("bad_payload", "payload"), None
        if not isinstance(fields, dict):
            return InvalidRequest("bad_payload", "payload"), None
        # The interactions the app uses: button clicks, and the Submit of the modals it opens (a restore's).
        if fields.get("type") not in ("block_actions", "view_submission"):
            return InvalidRequest("unsupported_interaction", str(fields.get("type"))[:64]), None
    elif "command" in form:
        fields = form
    else:
        return InvalidRequest("not_form", ""), None
    try:
        return None, RequestInfo.from_body(fields)
    except InvalidRequest as problem:
        return problem, None
