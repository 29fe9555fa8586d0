"""Evidence sources shared by the playbooks: Railway (ids, variables, deployments, logs, metrics) and
the service's own endpoints, each read once per run (``PlaybookContext.shared``) and bounded in time.

A source that cannot be read raises ``Unavailable`` with a sentence for the evidence line ("no
Railway token is configured", Railway's own error); ``attempt`` turns that into a value the
playbooks can branch on without try/except everywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.changes.logscan import LogScan, scan
from bot.common.errors import ChatopsError
from bot.common.identity import CORRELATION_HEADER, correlation_id
from bot.probe.fetch import Fetched, FetchFailure, fetch
from bot.probe.profiles import Endpoint, Profile, load_profile
from bot.railway.models import Deployment, LogLine, Metrics, SecretVariables, ServiceIds
from playbooks.base import PlaybookContext

T = TypeVar("T")
BODY_CAP = 256 * 1024
TAIL_LINES = 1000
FILTER_LINES = 200


class Unavailable(Exception):
    """This evidence could not be gathered; ``str`` is a sentence safe to show."""


@dataclass(frozen=True)
class Outcome:
    """The value of an evidence source, or why it could not be read."""

    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def attempt(read: Callable[[], Awaitable[Any]]) -> Outcome:
    """``read()``'s value, or why it could not be read.

    ``read`` is a factory, not a coroutine already made: a playbook cancelled before this starts (an
    incident's evidence cut short at shutdown, a playbook out of time) then leaves no coroutine behind
    that was never awaited."""
    try:
        return Outcome(await read())
    except Unavailable as exc:
        return Outcome(error=str(exc))
    except ChatopsError as exc:  # RailwayError and friends: already a safe sentence
        return Outcome(error=str(exc))


# ---- Railway ------------------------------------------------------------------------------------


def _railway(ctx: PlaybookContext) -> Any:
    if ctx.railway is None:
        raise Unavailable(ctx.t("unavailable.no_railway"))
    if ctx.service.railway is None:
        raise Unavailable(ctx.t("unavailable.no_railway_ref", service=ctx.service.name))
    return ctx.railway


async def service_ids(ctx: PlaybookContext) -> ServiceIds:
    railway = _railway(ctx)
    return await ctx.shared("ids", lambda: railway.resolve(ctx.service.railway))


async def database_ids(ctx: PlaybookContext) -> ServiceIds:
    """The Railway PostgreSQL service of this service (``database_service_id`` in the services file)."""
    ids = await service_ids(ctx)
    if not ctx.service.database_service_id:
        raise Unavailable(ctx.t("unavailable.no_database_service", service=ctx.service.name))
    return ServiceIds(ids.project_id, ids.environment_id, ctx.service.database_service_id)


async def redis_ids(ctx: PlaybookContext) -> ServiceIds:
    """The Railway Redis service of this service (``redis_service_id`` in the services file)."""
    ids = await service_ids(ctx)
    if not ctx.service.redis_service_id:
        raise Unavailable(ctx.t("unavailable.no_redis_service", service=ctx.service.name))
    return ServiceIds(ids.project_id, ids.environment_id, ctx.service.redis_service_id)


async def redis_variables(ctx: PlaybookContext) -> SecretVariables:
    railway = _railway(ctx)
    ids = await redis_ids(ctx)
    return await ctx.shared("redis.variables", lambda: railway.variables(ids))


async def redis_deployment(ctx: PlaybookContext) -> Deployment | None:
    """The Redis service's latest deployment."""
    railway = _railway(ctx)
    ids = await redis_ids(ctx)
    found = await ctx.shared("redis.deployments", lambda: railway.deployments(ids, 5))
    return found[0] if found else None


async def variables(ctx: PlaybookContext) -> SecretVariables:
    railway = _railway(ctx)
    ids = await service_ids(ctx)
    return await ctx.shared("variables", lambda: railway.variables(ids))


async def database_variables(ctx: PlaybookContext) -> SecretVariables:
    railway = _railway(ctx)
    ids = await database_ids(ctx)
    return await ctx.shared("db.variables", lambda: railway.variables(ids))


async def database_deployment(ctx: PlaybookContext) -> Deployment | None:
    """The PostgreSQL service's latest deployment."""
    railway = _railway(ctx)
    ids = await database_ids(ctx)
    found = await ctx.shared("db.deployments", lambda: railway.deployments(ids, 5))
    return found[0] if found else None


async def deployments(ctx: PlaybookContext, limit: int = 10) -> list[Deployment]:
    railway = _railway(ctx)
    ids = await service_ids(ctx)
    return await ctx.shared("deployments", lambda: railway.deployments(ids, limit))


async def active_deployment(ctx: PlaybookContext) -> Deployment:
    railway = _railway(ctx)
    ids = await service_ids(ctx)
    found = await ctx.shared("active", lambda: railway.active_deployment(ids))
    if found is None:
        raise Unavailable(ctx.t("unavailable.no_deployment", service=ctx.service.name))
    return found


async def logs(ctx: PlaybookContext, filters: Iterable[str] = ()) -> list[LogLine]:
    """The active deployment's recent lines plus the lines matching each filter (boot lines scroll out
    of the tail quickly when something floods the log), without duplicates, oldest first."""
    railway = _railway(ctx)
    deployment = await active_deployment(ctx)

    def query(term: str | None) -> Awaitable[list[LogLine]]:
        limit = TAIL_LINES if term is None else FILTER_LINES
        return ctx.shared(f"logs:{term}", lambda: railway.deployment_logs(deployment.id, filter=term, limit=limit))

    batches = await asyncio.gather(query(None), *(query(term) for term in filters))
    # Each batch is a subset of the same log: a line seen k times in some batch occurred at least k times.
    wanted: Counter[tuple[datetime, str]] = Counter()
    for batch in batches:
        for key, n in Counter((ln.timestamp, ln.message) for ln in batch).items():
            wanted[key] = max(wanted[key], n)
    merged: list[LogLine] = []
    for line in sorted((ln for batch in batches for ln in batch), key=lambda ln: ln.timestamp):
        key = (line.timestamp, line.message)
        if wanted[key] > 0:
            wanted[key] -= 1
            merged.append(line)
    return merged


async def log_scan(ctx: PlaybookContext, filters: Iterable[str] = ()) -> tuple[LogScan, int]:
    """(scan, number of lines read) of ``logs``."""
    lines = await logs(ctx, filters)
    return scan(lines), len(lines)


async def metrics(ctx: PlaybookContext, minutes: int = 60) -> Metrics:
    railway = _railway(ctx)
    ids = await service_ids(ctx)
    start = ctx.now - timedelta(minutes=minutes)
    return await ctx.shared(f"metrics:{minutes}", lambda: railway.metrics(ids, start, ctx.now, 60))


# ---- the service's endpoints --------------------------------------------------------------------


def profile(ctx: PlaybookContext) -> Profile:
    base = ctx.services.path.parent if isinstance(ctx.services.path, Path) else None
    try:
        return load_profile(ctx.service.profile, base)
    except ChatopsError as exc:
        raise Unavailable(str(exc)) from None


def endpoint_for(ctx: PlaybookContext, role: str) -> Endpoint | None:
    """The profile's first endpoint with ``role`` (on-demand replacements included)."""
    return next((e for e in profile(ctx).endpoints if e.role == role), None)


async def request(ctx: PlaybookContext, path: str, *, method: str = "GET",
                  headers: dict[str, str] | None = None) -> Fetched:
    """One bounded request to the service; no answer at all raises Unavailable naming the failure."""
    deadline = asyncio.get_running_loop().time() + ctx.http_timeout
    sent = {"Accept": "application/json", CORRELATION_HEADER: correlation_id("diagnose"), **(headers or {})}
    try:
        return await fetch(ctx.http, ctx.service.url + path, method=method, headers=sent, deadline=deadline,
                           body_cap=BODY_CAP)
    except FetchFailure as exc:
        raise Unavailable(ctx.t("unavailable.no_answer", path=path, detail=exc.detail)) from None


async def get_shared(ctx: PlaybookContext, path: str) -> Fetched:
    """A plain GET (no Origin), read once per run."""
    return await ctx.shared(f"GET {path}", lambda: request(ctx, path))


def json_body(fetched: Fetched) -> Any:
    try:
        return json.loads(fetched.body) if fetched.body else None
    except ValueError:
        return None
