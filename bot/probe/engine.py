"""The probe engine: every endpoint of a service at once, through the one shared ``httpx.AsyncClient``.

Each endpoint has its own timeout and the whole report a bound; an endpoint still waiting at the
bound is reported as timed out and never delays the others. The engine sends ``X-Correlation-ID``
(one ``chatops-…`` id per report, so the backend's logs can be searched for it and the bot's log
scans can drop the lines it caused) and no ``Origin`` except in the CORS origin checks.

An endpoint that needs auth is requested only with ``CHATOPS_HEALTH_AUTH``: without it, it is
reported as ``skipped`` (not checked: needs auth), because a request without a token makes the real
backend log an error-level line.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from bot.common.identity import CORRELATION_HEADER, correlation_id
from bot.config.model import Invalid
from bot.probe import verdict as v
from bot.probe.fetch import ACCEPT_ENCODING, FetchFailure, fetch
from bot.probe.models import EndpointResult, ServiceReport
from bot.probe.profiles import Endpoint, Profile, load_profile
from bot.probe.targets import TargetError, split_url

_HEADER_FORM = re.compile(r"^([A-Za-z0-9-]+):\s*(.+)$")
# Slack for the engine's own guard around the report bound (the requests stop at the bound itself).
_GUARD_S = 0.25


class ServiceLike(Protocol):
    name: str
    url: str
    profile: str

    @property
    def frontend_origins(self) -> list[str]: ...


def _auth_headers(value: str | None) -> dict[str, str]:
    """``CHATOPS_HEALTH_AUTH`` is an Authorization value ("Bearer …") or a whole ``Name: value`` header."""
    if not value:
        return {}
    match = _HEADER_FORM.match(value)
    return {match.group(1): match.group(2)} if match else {"Authorization": value}


class Prober:
    def __init__(self, http: httpx.AsyncClient, *, endpoint_timeout: float = 5.0, total_timeout: float = 8.0,
                 body_cap: int = 1_000_000, auth_header: str | None = None,
                 correlation_kind: str = "probe", max_redirects: int = 5,
                 profile_base: Path | None = None) -> None:
        self._http = http
        self.endpoint_timeout = endpoint_timeout
        self.total_timeout = total_timeout
        self.body_cap = body_cap
        self._auth = _auth_headers(auth_header)
        self._kind = correlation_kind
        self._max_redirects = max_redirects
        self._profile_base = profile_base

    async def probe_all(self, services: Iterable[ServiceLike]) -> list[ServiceReport]:
        """Every service at once; reports come back in the order given."""
        return list(await asyncio.gather(*(self.probe_service(s) for s in services)))

    async def probe_service(self, service: ServiceLike, path: str | None = None, *,
                            watched_only: bool = False) -> ServiceReport:
        """A service: its profile's endpoints (only ``path``, or only the ``watched`` ones a monitor round
        needs while all is well); the auth header goes only to configured services."""
        return await self._probe(service.name, service.url, service.profile,
                                 list(getattr(service, "frontend_origins", []) or []), path,
                                 send_auth=getattr(service, "configured", True), watched_only=watched_only)

    async def probe_url(self, url: str, profile_name: str = "runbook") -> ServiceReport:
        """Any URL (the operator's terminal): no auth header is sent to a host that is not configured."""
        base, path = split_url(url)
        return await self._probe(httpx.URL(base).host, base, profile_name, [], path, send_auth=False)

    async def _probe(self, name: str, base: str, profile_ref: str, origins: list[str], path: str | None,
                     *, send_auth: bool, watched_only: bool = False) -> ServiceReport:
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + self.total_timeout
        profile = load_profile(profile_ref, self._profile_base)
        cid = correlation_id(self._kind)
        specs = [self._spec_for(profile, path)] if path else profile.watched if watched_only else profile.probed
        probed = {s.path for s in specs}

        jobs: list[tuple[Endpoint, str | None, asyncio.Task[list[EndpointResult]]]] = []
        for spec in specs:
            jobs.append((spec, None, asyncio.create_task(
                self._endpoint(base, spec, profile, probed, cid, deadline, send_auth))))
            if spec.origin_check and not path and not watched_only:
                for origin in origins:
                    jobs.append((spec, origin, asyncio.create_task(
                        self._origin(base, spec, profile, origin, cid, deadline))))
            if spec.promises_cors and origins and not path:  # one CORS check is enough for a promise
                jobs.append((spec, origins[0], asyncio.create_task(
                    self._origin(base, spec, profile, origins[0], cid, deadline, promise=True))))
        try:
            await asyncio.wait([t for _, _, t in jobs], timeout=max(deadline - loop.time(), 0) + _GUARD_S)
        except asyncio.CancelledError:
            for _, _, task in jobs:
                task.cancel()
            raise

        results: list[EndpointResult] = []
        stuck = []
        for spec, origin, task in jobs:
            if task.done():
                results.extend(task.result())
            else:
                task.cancel()
                stuck.append(task)
                results.append(self._bound_reached(base, spec, origin))
        if stuck:  # let the cancelled requests close their connections
            await asyncio.wait(stuck, timeout=_GUARD_S)
        return self._report(name, base, profile, results, start, cid)

    @staticmethod
    def _spec_for(profile: Profile, path: str) -> Endpoint:
        spec = profile.endpoint(path)
        if spec is not None:
            return spec
        try:  # a path the profile does not know: it must answer 200, whatever the body.
            return Endpoint(path=path, role="liveness", json_body=False)
        except Invalid:
            raise TargetError("health.error.malformed", arg=path) from None

    def _headers(self, cid: str, *, auth: bool) -> dict[str, str]:
        headers = {CORRELATION_HEADER: cid, "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        return {**headers, **self._auth} if auth else headers

    async def _one(self, base: str, spec: Endpoint, profile: Profile, cid: str, deadline: float, *,
                   auth: bool, origin: str | None = None, promise: bool = False) -> EndpointResult:
        loop = asyncio.get_running_loop()
        own = loop.time() + self.endpoint_timeout
        headers = self._headers(cid, auth=auth)
        if origin:
            headers["Origin"] = origin
        url = base + spec.path
        try:
            fetched = await fetch(self._http, url, method=spec.method, headers=headers, deadline=min(own, deadline),
                                  body_cap=self.body_cap, max_redirects=self._max_redirects)
        except FetchFailure as failure:
            if failure.failure == "timeout":
                limit = self.endpoint_timeout if own <= deadline else self.total_timeout
                failure.detail = f"no answer within {limit:g} s" + ("" if own <= deadline else " (report bound)")
            judged = v.failed(failure, spec)
            status, latency = failure.status, failure.elapsed_ms
        else:
            if origin:
                judged = v.judge_cors_promise(origin, fetched) if promise else v.judge_origin(origin, fetched)
            else:
                judged = v.judge(spec, profile, fetched)
            status, latency = fetched.status, fetched.elapsed_ms
        return EndpointResult(spec.path, url, status, latency, judged.verdict, judged.failure, judged.detail,
                              judged.fields, spec.role, judged.reason, judged.diagnose, origin)

    def _can_send(self, spec: Endpoint, send_auth: bool) -> bool:
        return not spec.auth or (send_auth and bool(self._auth))

    async def _endpoint(self, base: str, spec: Endpoint, profile: Profile, probed: set[str], cid: str,
                        deadline: float, send_auth: bool) -> list[EndpointResult]:
        replacement = profile.endpoint(spec.replaced_by) if spec.replaced_by else None
        if not self._can_send(spec, send_auth):
            result = _needs_auth(base, spec)
            # The replacement is what answers today; probe it when it needs no auth.
            if replacement is None or replacement.path in probed or not self._can_send(replacement, send_auth):
                return [result]
            return [result, await self._one(base, replacement, profile, cid, deadline, auth=False)]
        result = await self._one(base, spec, profile, cid, deadline, auth=send_auth and spec.auth)
        if result.verdict != "missing" or replacement is None or replacement.path in probed:
            return [result]
        if not self._can_send(replacement, send_auth):
            return [result, _needs_auth(base, replacement)]
        return [result, await self._one(base, replacement, profile, cid, deadline, auth=send_auth and replacement.auth)]

    async def _origin(self, base: str, spec: Endpoint, profile: Profile, origin: str, cid: str,
                      deadline: float, *, promise: bool = False) -> list[EndpointResult]:
        return [await self._one(base, spec, profile, cid, deadline, auth=False, origin=origin, promise=promise)]

    def _bound_reached(self, base: str, spec: Endpoint, origin: str | None) -> EndpointResult:
        return EndpointResult(spec.path, base + spec.path, None, round(self.total_timeout * 1000, 1), "timeout",
                              "timeout", f"no answer within {self.total_timeout:g} s (report bound)", {},
                              spec.role, None, spec.diagnose, origin)

    def _report(self, name: str, base: str, profile: Profile, results: list[EndpointResult], start: float,
                cid: str) -> ServiceReport:
        drift = v.find_drift(results, profile)
        verdict, reason, args, next_step = v.summarise(results, drift, profile)
        elapsed = round((asyncio.get_running_loop().time() - start) * 1000, 1)
        return ServiceReport(name=name, url=base, profile=profile.name, verdict=verdict, reason=reason,
                             next_step=next_step, elapsed_ms=elapsed, endpoints=results,
                             version=_pick(results, "gitSha", str), build_time=_pick(results, "buildTime", str),
                             uptime_s=_pick(results, "uptime", float), drift=drift,
                             checked_at=datetime.now(UTC), reason_args=args, correlation_id=cid)


def _needs_auth(base: str, spec: Endpoint) -> EndpointResult:
    """Not requested: the endpoint needs auth and CHATOPS_HEALTH_AUTH is not set (or not for this host)."""
    return EndpointResult(spec.path, base + spec.path, None, None, "skipped", None, "", {}, spec.role)


def _pick(results: list[EndpointResult], name: str, kind: type) -> Any:
    """A field from the /version endpoint first, else from any endpoint that has it."""
    ordered = sorted(results, key=lambda r: r.role != "version")
    for r in ordered:
        value = r.fields.get(name)
        if value is None or isinstance(value, bool):
            continue
        if kind is float and isinstance(value, int | float):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    return None
