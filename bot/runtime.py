"""The process's shared objects, created once at startup and passed to every handler."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field

import httpx
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.common.jobs import JobPool
from bot.config.services import ServicesFile
from bot.config.settings import Settings
from bot.probe import Prober
from bot.probe.http import probe_client
from bot.railway import RailwayClient
from bot.slack.user_languages import UserLanguages
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


@dataclass
class Runtime:
    settings: Settings
    config: ServicesFile
    store: Store
    http: httpx.AsyncClient  # one shared pool for probes and other outbound HTTP
    slack: AsyncWebClient
    jobs: JobPool
    audit: AuditWriter
    user_languages: UserLanguages | None = None
    railway: RailwayClient | None = None
    prober: Prober | None = None
    recent_triggers: RecentTriggers = field(default_factory=RecentTriggers)
    tasks: set[asyncio.Task] = field(default_factory=set)
    # Registered by handlers: run once when serving starts, and every ``periodic_seconds``.
    startup_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    periodic_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    periodic_seconds: float = 15.0
    # Extra HTTP routes handlers add to the bot's server: (method, path, aiohttp handler).
    web_routes: list[tuple[str, str, Callable]] = field(default_factory=list)
    bot_user_id: str | None = None
    team_id: str | None = None
    extras: dict = field(default_factory=dict)

    def language_for(self, channel_id: str | None) -> str:
        """Channel override, else the workspace language from the services file."""
        if channel_id and channel_id in self.config.i18n.channels:
            return self.config.i18n.channels[channel_id]
        return self.config.i18n.language

    async def run_hooks(self) -> None:
        """Run the startup hooks, then the periodic ones forever (as a tracked task)."""
        for hook in self.startup_hooks:
            await _guarded(hook)

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.periodic_seconds)
                for hook in self.periodic_hooks:
                    await _guarded(hook)

        if self.periodic_hooks:
            self.spawn("periodic-hooks", loop())

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
        try:
            await asyncio.wait_for(self.jobs.join(), grace_seconds)
        except TimeoutError:
            logger.warning("stopping with follow-ups still queued")
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.jobs.stop()
        await self.audit.stop()
        await self.http.aclose()
        await self.store.dispose()


async def _guarded(hook: Callable[[], Awaitable[None]]) -> None:
    try:
        await hook()
    except Exception:
        logger.exception("hook %s failed", getattr(hook, "__name__", hook))


def build_slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=10,
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1),
                        AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


def build_http_client() -> httpx.AsyncClient:
    """The process's one outbound HTTP pool (probes, Railway, playbooks): httpx on aiohttp's pool."""
    return probe_client()


def build_runtime(settings: Settings, config: ServicesFile) -> Runtime:
    store = Store(settings.DATABASE_URL)
    http = build_http_client()
    slack = build_slack_client(settings)
    railway = None
    if settings.RAILWAY_API_TOKEN or settings.RAILWAY_TOKEN:
        railway = RailwayClient.from_settings(settings, http)
    return Runtime(
        settings=settings,
        config=config,
        store=store,
        http=http,
        slack=slack,
        user_languages=UserLanguages(slack),
        jobs=JobPool(settings.CHATOPS_WORKERS, settings.CHATOPS_QUEUE_SIZE),
        audit=AuditWriter(store, spill_path=settings.CHATOPS_AUDIT_SPILL_PATH),
        railway=railway,
        prober=Prober(http, auth_header=settings.CHATOPS_HEALTH_AUTH,
                      endpoint_timeout=settings.CHATOPS_PROBE_TIMEOUT_SECONDS,
                      total_timeout=settings.CHATOPS_PROBE_BUDGET_SECONDS,
                      profile_base=config.path.parent if config.path else None),
    )
