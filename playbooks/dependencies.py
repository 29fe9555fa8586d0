"""Which dependency a network error in the logs belongs to, judged by the address it names.

``connect ECONNREFUSED 127.0.0.1:6390`` says nothing about Redis or PostgreSQL; its address does.
The addresses come from the service's own ``DATABASE_URL`` and ``REDIS_URL`` (Railway variables);
without Railway access, from the hosts the backend's ``/config`` endpoint reports, with the default
ports (5432, 6379) to tell them apart. Node prints the resolved IP address of a host name, so an IP
that matches no known host is attributed by its port when exactly one dependency uses that port.
An address that matches neither is "another dependency".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from bot.changes.logscan import ConnectionErrors, LogScan
from bot.common import pgconnect
from playbooks import evidence as ev
from playbooks import redisconnect
from playbooks.base import PlaybookContext
from playbooks.evidence import attempt

Owner = Literal["database", "redis", "other"]
_DEFAULT_PORTS: dict[str, int] = {"database": 5432, "redis": 6379}


@dataclass(frozen=True)
class Known:
    """A dependency's address; ``port`` is None when only the host is known (from /config)."""

    host: str
    port: int | None

    def matches(self, host: str, port: int | None) -> bool:
        return self.host == host and (self.port is None or port is None or self.port == port)

    def exact(self, host: str, port: int | None) -> bool:
        return self.host == host and self.port is not None and self.port == port


@dataclass(frozen=True)
class Dependencies:
    database: Known | None = None
    redis: Known | None = None

    def owner(self, errors: ConnectionErrors) -> Owner:
        host, port = errors.host, errors.port
        known = {"database": self.database, "redis": self.redis}
        exact = [name for name, k in known.items() if k and k.exact(host, port)]
        if len(exact) == 1:
            return exact[0]  # type: ignore[return-value]
        loose = [name for name, k in known.items() if k and k.matches(host, port)]
        if len(loose) == 1:
            return loose[0]  # type: ignore[return-value]
        if len(loose) > 1 and port is not None:  # same host, ports unknown: the default port decides
            by_port = [name for name in loose if _DEFAULT_PORTS[name] == port]
            if len(by_port) == 1:
                return by_port[0]  # type: ignore[return-value]
        if not loose and port is not None and _is_ip(host):
            # Node prints the resolved address (10.x or fd12:… for a *.railway.internal host): the port decides.
            by_port = [name for name, k in known.items() if k and (k.port or _DEFAULT_PORTS[name]) == port]
            if len(by_port) == 1:
                return by_port[0]  # type: ignore[return-value]
        if errors.said_redis and self.redis is None:
            return "redis"
        return "other"

    def split(self, scan: LogScan) -> dict[Owner, list[ConnectionErrors]]:
        """The scan's network errors grouped by owner (each list most frequent first)."""
        out: dict[Owner, list[ConnectionErrors]] = {"database": [], "redis": [], "other": []}
        for errors in scan.connection_errors.values():
            out[self.owner(errors)].append(errors)
        return out


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def others_text(ctx: PlaybookContext, errors: list[ConnectionErrors]) -> str:
    """``"; 12 × ECONNREFUSED to another dependency (10.0.0.5:9200)"`` for errors neither playbook owns."""
    if not errors:
        return ""
    parts = [ctx.t("deps.other", n=e.count, codes="/".join(e.codes), address=e.address) for e in errors[:3]]
    return "; " + ", ".join(parts)


async def _from_variables(ctx: PlaybookContext) -> Dependencies | None:
    found = await attempt(lambda: ev.variables(ctx))
    if not found.ok:
        return None
    database = redis = None
    chosen = pgconnect.effective(found.value)
    if chosen:
        try:
            url = pgconnect.parse(chosen[1])
            database = Known(url.host.lower(), url.port)
        except pgconnect.BadUrl:
            pass
    if found.value.get("REDIS_URL"):
        try:
            r = redisconnect.parse(found.value["REDIS_URL"])
            redis = Known(*r.address)
        except redisconnect.BadRedisUrl:
            pass
    return Dependencies(database, redis)


async def _from_config(ctx: PlaybookContext) -> Dependencies:
    spec = ev.endpoint_for(ctx, "config")
    if spec is None:
        return Dependencies()
    answered = await attempt(lambda: ev.get_shared(ctx, spec.path))
    body = ev.json_body(answered.value) if answered.ok else None
    if not isinstance(body, dict):
        return Dependencies()

    def host(key: str) -> Known | None:
        value = body.get(key)
        if isinstance(value, str) and value and value != "not configured":
            return Known(value.lower(), None)
        return None

    return Dependencies(host("databaseHost"), host("redisHost"))


async def dependencies(ctx: PlaybookContext) -> Dependencies:
    """The service's database and Redis addresses, read once per run."""

    async def build() -> Dependencies:
        found = await _from_variables(ctx)
        if found is not None and (found.database or found.redis):
            return found
        try:
            return await _from_config(ctx)
        except ev.Unavailable:
            return Dependencies()

    return await ctx.shared("dependencies", build)
