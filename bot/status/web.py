"""``GET /status``, ``/status.json`` and ``/status/feed.atom`` on the bot's own port, public by design.

Rendered on the server (Jinja2, autoescaped, no JavaScript) in the page's configured language.
Every answer carries a strong ``ETag`` (a hash of the body), ``Last-Modified`` (the newest probe,
update or resolution shown) and ``Cache-Control: public, max-age=30``; a matching
``If-None-Match`` (or, without one, an ``If-Modified-Since`` no older than Last-Modified) gets 304.
The page never shows the time it was rendered, so the same facts give the same bytes and ETag.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from bot.common.redact import redact
from bot.i18n import render_page, t
from bot.runtime import Runtime
from bot.status.page import StatusPage, build

logger = logging.getLogger(__name__)

PAGE_PATH, JSON_PATH, FEED_PATH = "/status", "/status.json", "/status/feed.atom"
MAX_AGE = 30
# Only inline styles; nothing runs (the page needs no JavaScript) and it cannot be framed.
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                "frame-ancestors 'none'; base-uri 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class StatusSite:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def view(self) -> StatusPage:
        try:
            return await build(self.rt.store, self.rt.config)
        except Exception as exc:  # the database is away: say so (no traceback), a cache may keep the last page
            logger.warning("status page unavailable: %s", redact(f"{type(exc).__name__}: {exc}"))
            lang = self.rt.config.status_page.language or self.rt.config.i18n.language
            raise web.HTTPServiceUnavailable(text=t("status.unavailable", lang),
                                             headers={"Retry-After": "30", "Cache-Control": "no-store"}) from None

    async def page(self, request: web.Request) -> web.Response:
        view = await self.view()
        body = render_page("status.html.j2", view.lang, page=view, feed_url=FEED_PATH, json_url=JSON_PATH)
        return _cached(request, body.encode(), "text/html", view)

    async def json(self, request: web.Request) -> web.Response:
        view = await self.view()
        body = json.dumps(as_json(view), ensure_ascii=False, indent=1)
        return _cached(request, body.encode(), "application/json", view)

    async def feed(self, request: web.Request) -> web.Response:
        view = await self.view()
        origin = _origin(request)
        entries = [{"id": _urn(view.title, f"update/{u.id}"), "updated": _rfc3339(u.at), "phase": u.phase,
                    "text": u.text, "component": inc.component, "incident": inc.id}
                   for inc in view.open_incidents + view.history for u in inc.updates]
        entries.sort(key=lambda e: e["updated"], reverse=True)
        body = render_page("status.atom.j2", view.lang, page=view, entries=entries, feed_id=_urn(view.title, "feed"),
                           updated=_rfc3339(view.last_modified), feed_url=origin + FEED_PATH,
                           page_url=origin + PAGE_PATH)
        return _cached(request, body.encode(), "application/atom+xml", view)


def as_json(view: StatusPage) -> dict:
    """The page's facts for machines: codes, public names, approved words, times."""
    def incident(inc) -> dict:
        return {"id": inc.id, "component": inc.component, "state": inc.state, "started_at": _rfc3339(inc.started_at),
                "resolved_at": _rfc3339(inc.resolved_at) if inc.resolved_at else None,
                "updates": [{"at": _rfc3339(u.at), "phase": u.phase, "text": u.text} for u in inc.updates]}

    return {"title": view.title, "language": view.lang, "updated_at": _rfc3339(view.last_modified),
            "status": {"indicator": view.overall, "description": t(f"status.overall.{view.overall}", view.lang)},
            "components": [{"name": c.name, "state": c.state} for c in view.components],
            "incidents": [incident(i) for i in view.open_incidents],
            "history": [incident(i) for i in view.history], "history_days": view.history_days}


def _cached(request: web.Request, body: bytes, content_type: str, view: StatusPage) -> web.Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    modified = view.last_modified.replace(microsecond=0)
    headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True),
               "Cache-Control": f"public, max-age={MAX_AGE}", "Content-Language": view.lang,
               "Vary": "Accept-Encoding", **SECURITY_HEADERS}
    if _not_modified(request, etag, modified):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={**headers, "Content-Type": f"{content_type}; charset=utf-8"})


def _not_modified(request: web.Request, etag: str, modified: datetime) -> bool:
    """RFC 9110 §13.1: If-None-Match decides when present; otherwise If-Modified-Since."""
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            return modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _origin(request: web.Request) -> str:
    """The page's public origin: behind Railway's proxy the scheme arrives in X-Forwarded-Proto."""
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    return f"{scheme if scheme in ('http', 'https') else 'https'}://{request.host}"


def _urn(title: str, what: str) -> str:
    """Stable Atom ids (RFC 4287 §4.2.6): the same entry keeps its id wherever the page is served from."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'chatops-status:{title}:{what}')}"


def _rfc3339(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")
