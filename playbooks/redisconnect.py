"""Parse a Redis URL as the backend (ioredis) reads it, and try a real ``PING`` with redis-py's asyncio
client.

Only what a diagnosis needs leaves this module: host, port, database number, whether credentials
match, and a failure class (auth, refused, dns, timeout, tls, other). The password stays inside
``RedisUrl`` and is never part of a repr or a detail string.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from bot.common.redact import redact

SCHEMES = ("redis", "rediss")
DEFAULT_PORT = 6379
PRIVATE_SUFFIX = ".railway.internal"
_MAX_DETAIL = 160


@dataclass(frozen=True)
class RedisUrl:
    scheme: str
    host: str
    port: int
    db: int
    user: str = field(repr=False)
    password: str = field(repr=False)

    @property
    def where(self) -> str:
        """``host:port``: what may be shown."""
        return f"{self.host}:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host.lower(), self.port)

    @property
    def private(self) -> bool:
        return self.host.lower().endswith(PRIVATE_SUFFIX)


class BadRedisUrl(ValueError):
    """``reason`` is one of: reference, empty, scheme, incomplete, unparsable."""

    def __init__(self, reason: str, scheme: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.scheme = scheme


def parse(value: str) -> RedisUrl:
    text = value.strip()
    if not text:
        raise BadRedisUrl("empty")
    if "{{" in text or "${" in text:
        raise BadRedisUrl("reference")
    try:
        parts = urlsplit(text)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise BadRedisUrl("unparsable") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BadRedisUrl("scheme", scheme=scheme or "?")
    if not parts.hostname:
        raise BadRedisUrl("incomplete", scheme=scheme)
    path = parts.path.lstrip("/")
    db = int(path) if path.isdigit() else 0
    return RedisUrl(scheme, parts.hostname, port, db, unquote(parts.username or ""), unquote(parts.password or ""))


@dataclass(frozen=True)
class PingResult:
    kind: str  # ok | auth | refused | dns | timeout | tls | other
    detail: str
    elapsed_ms: float


def classify(exc: BaseException) -> str:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, redis_errors.AuthenticationError | redis_errors.AuthenticationWrongNumberOfArgsError)
           for e in chain) or "noauth" in text or "wrongpass" in text or "invalid password" in text:
        return "auth"
    if any(isinstance(e, TimeoutError | redis_errors.TimeoutError) for e in chain):
        return "timeout"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text \
            or "temporary failure in name resolution" in text:
        return "dns"
    if "ssl" in text or "certificate" in text:
        return "tls"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text \
            or "error 111" in text:
        return "refused"
    return "other"


def _detail(exc: BaseException) -> str:
    text = redact(" ".join((str(exc) or type(exc).__name__).split()))
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


async def try_ping(url: RedisUrl, timeout: float) -> PingResult:
    """Connect and ``PING`` within ``timeout`` seconds (no retries: one honest attempt)."""
    start = time.perf_counter()
    client = aioredis.Redis(host=url.host, port=url.port, db=url.db, username=url.user or None,
                            password=url.password or None, ssl=url.scheme == "rediss",
                            socket_connect_timeout=timeout, socket_timeout=timeout,
                            retry=None, single_connection_client=True)
    try:
        async with asyncio.timeout(timeout):
            answer = await client.ping()
    except Exception as exc:  # every failure is evidence, classified below
        kind = classify(exc)
        return PingResult(kind, "timed out" if kind == "timeout" else _detail(exc), _ms(start))
    finally:
        try:
            async with asyncio.timeout(1):
                await client.aclose()
        except Exception:  # closing a connection that never opened: nothing to report
            pass
    return PingResult("ok" if answer else "other", "PONG" if answer else "no PONG", _ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
