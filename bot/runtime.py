"""The process's shared objects, created once at startup and passed to every handler."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field

import httpx
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.common.jobs import JobPool
from bot.common.responses import ResponseDeliveries
from bot.config.services import ServicesFile
from bot.config.settings import Settings
from bot.i18n.people import UserLanguages
from bot.probe import Prober
from bot.probe.http import probe_client
from bot.railway import RailwayClient
from bot.store import Store
from bot.store.audit import AuditWriter

logger = logging.getLogger(__name__)


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


RESPONSE_LIMITS = httpx.Limits(max_connections=200)


@dataclass
class Runtime:
    settings: Settings
    config: ServicesFile
    store: Store
    http: httpx.AsyncClient  # one shared pool for probes and other outbound HTTP
    slack: AsyncWebClient
    jobs: JobPool
    audit: AuditWriter
    user_languages: UserLanguages
    prober: Prober
    responses: ResponseDeliveries
    railway: RailwayClient | None = None  # None without a Railway token
    recent_triggers: RecentTriggers = field(default_factory=RecentTriggers)
    tasks: set[asyncio.Task] = field(default_factory=set)
    bot_user_id: str | None = None
    team_id: str | None = None

    def language_for(self, channel_id: str | None) -> str:
        """Channel override, else the workspace language from the services file."""
        if channel_id and channel_id in self.config.i18n.channels:
            return self.config.i18n.channels[channel_id]
        return self.config.i18n.language

    def spawn(self, name: str, coro: Coroutine) -> asyncio.Task:
        """Run long work (following a deployment for minutes) outside the bounded pool, tracked."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception():
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self, grace_seconds: float = 10.0) -> None:
        """Finish the follow-ups already accepted (up to ``grace_seconds``), then stop everything.

        Long tasks (a rollback being followed) are cancelled: the next start resumes them from the
        database, or reports them as interrupted."""
        started = asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(self.jobs.join(), grace_seconds)
        except TimeoutError:
            logger.warning("stopping with follow-ups still queued")
        await self.responses.drain(max(0.5, grace_seconds - (asyncio.get_running_loop().time() - started)))
        await self.responses.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.jobs.stop()
        await self.audit.stop()
        await self.http.aclose()
        await self.store.dispose()


def build_slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=settings.CHATOPS_SLACK_TIMEOUT_SECONDS,
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1),
                        AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


def build_runtime(settings: Settings, config: ServicesFile, *, http: httpx.AsyncClient,
                  railway: RailwayClient | None) -> Runtime:
    """The shared infrastructure (the composition root, ``bot.main``, builds the rest on it)."""
    store = Store(settings.DATABASE_URL, statement_timeout=settings.CHATOPS_DB_TIMEOUT_SECONDS)
    slack = build_slack_client(settings)
    return Runtime(
        settings=settings,
        config=config,
        store=store,
        http=http,
        slack=slack,
        user_languages=UserLanguages(slack),
        jobs=JobPool(settings.CHATOPS_WORKERS, settings.CHATOPS_QUEUE_SIZE),
        audit=(audit := AuditWriter(store, spill_path=settings.CHATOPS_AUDIT_SPILL_PATH)),
        # Answers have their own pool, so hung response_urls never take the probes' connections.
        responses=ResponseDeliveries(slack, audit.received, probe_client(limits=RESPONSE_LIMITS)),
        railway=railway,
        prober=Prober(http, auth_header=settings.CHATOPS_HEALTH_AUTH,
                      endpoint_timeout=settings.CHATOPS_PROBE_TIMEOUT_SECONDS,
                      total_timeout=settings.CHATOPS_PROBE_BUDGET_SECONDS,
                      profile_base=config.path.parent if config.path else None),
    )
