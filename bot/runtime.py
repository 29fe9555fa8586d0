"""The process's shared objects, created once at startup and passed to every handler."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

import httpx
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ServicesFile
from bot.jobs import JobPool
from bot.settings import Settings
from bot.store import Store
from bot.store.audit import AuditWriter


class RecentTriggers:
    """Trigger ids seen in the last few minutes by this process (an in-memory first line against
    replays; the database's ``seen_requests`` decides across replicas)."""

    def __init__(self, ttl_seconds: float = 330.0, max_size: int = 100_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._ttl = ttl_seconds
        self._max = max_size

    def first_time(self, trigger_id: str) -> bool:
        now = time.monotonic()
        while self._seen and (next(iter(self._seen.values())) < now - self._ttl or len(self._seen) > self._max):
            self._seen.popitem(last=False)
        if trigger_id in self._seen:
            return False
        self._seen[trigger_id] = now
        return True


@dataclass
class Runtime:
    settings: Settings
    config: ServicesFile
    store: Store
    http: httpx.AsyncClient  # one shared pool for probes and other outbound HTTP
    slack: AsyncWebClient
    jobs: JobPool
    audit: AuditWriter
    recent_triggers: RecentTriggers = field(default_factory=RecentTriggers)
    bot_user_id: str | None = None
    team_id: str | None = None
    extras: dict = field(default_factory=dict)

    def language_for(self, channel_id: str | None) -> str:
        """Channel override, else the workspace language from the services file."""
        if channel_id and channel_id in self.config.i18n.channels:
            return self.config.i18n.channels[channel_id]
        return self.config.i18n.language

    async def close(self) -> None:
        await self.jobs.stop()
        await self.audit.stop()
        await self.http.aclose()
        await self.store.dispose()


def build_slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=10,
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1),
                        AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


def build_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30),
        timeout=httpx.Timeout(10.0),
        follow_redirects=False,
        headers={"User-Agent": "chatops-bot"},
    )


def build_runtime(settings: Settings, config: ServicesFile) -> Runtime:
    store = Store(settings.DATABASE_URL)
    return Runtime(
        settings=settings,
        config=config,
        store=store,
        http=build_http_client(),
        slack=build_slack_client(settings),
        jobs=JobPool(settings.CHATOPS_WORKERS, settings.CHATOPS_QUEUE_SIZE),
        audit=AuditWriter(store),
    )
