"""The HTTP client for probes: httpx's API on aiohttp's connection pool.

httpx's own pool (httpcore) scans every connection for every queued request, which makes many
concurrent requests CPU-bound (encode/httpx#3215). bench/RESULTS.md has the numbers: 20 services ×
7 endpoints at once took ~2.5 s and ~2.4 s of CPU with the default transport, ~0.36 s and ~0.12 s
of CPU with ``httpx-aiohttp``. The engine works with either (its tests run on both).
"""

from __future__ import annotations

from typing import Literal

import httpx

from bot.common.identity import tag_request

LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30)


def probe_client(*, transport: Literal["aiohttp", "httpx"] = "aiohttp",
                 limits: httpx.Limits = LIMITS) -> httpx.AsyncClient:
    """A client for probes and other outbound HTTP (redirects are followed by the engine, not httpx).

    Every request it sends carries the bot's User-Agent and a correlation id (``bot.common.identity``).
    """
    options: dict = {"limits": limits, "timeout": httpx.Timeout(10.0), "follow_redirects": False,
                     "event_hooks": {"request": [tag_request]}}
    if transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        options["transport"] = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(**options)
