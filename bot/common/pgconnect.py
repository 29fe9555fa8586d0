"""Parse a PostgreSQL URL as the backend reads it, and try a real connection with asyncpg.

Only the facts needed for a diagnosis leave this module: host, port, database, whether credentials
match, and a failure class (auth, refused, dns, timeout, tls, ...). The password stays inside
``DbUrl`` and is never part of a repr or a detail string.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.common.redact import redact

SCHEMES = ("postgresql", "postgres")
# The backend's lookup order (target-backend.md §4), then any *DATABASE*/*POSTGRES* variable
# holding a postgres URL.
LOOKUP = ("DATABASE_URL", "DATABASE_PUBLIC_URL", "POSTGRES_URL", "POSTGRES_PRISMA_URL", "DATABASE_PRISMA_URL",
          "PGDATABASE", "POSTGRES_URL_NON_POOLING", "POSTGRES_URL_POOLING")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
PRIVATE_SUFFIX = ".railway.internal"
_MAX_DETAIL = 160


@dataclass(frozen=True)
class DbUrl:
    scheme: str
    host: str
    port: int
    database: str
    user: str = field(repr=False)
    password: str = field(repr=False)
    sslmode: str | None = None

    @property
    def where(self) -> str:
        """``host:port/database``: what may be shown."""
        return f"{self.host}:{self.port}/{self.database}"

    @property
    def target(self) -> tuple[str, int, str]:
        return (self.host.lower(), self.port, self.database)

    @property
    def private(self) -> bool:
        return self.host.lower().endswith(PRIVATE_SUFFIX)


class BadUrl(ValueError):
    """``reason`` is one of: reference, empty, scheme, incomplete, unparsable."""

    def __init__(self, reason: str, scheme: str = "", missing: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.scheme = scheme
        self.missing = missing


def parse(value: str) -> DbUrl:
    text = value.strip()
    if not text:
        raise BadUrl("empty")
    if "{{" in text or "${" in text:
        raise BadUrl("reference")
    try:
        parts = urlsplit(text)
        port = parts.port or 5432
    except ValueError:
        raise BadUrl("unparsable") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BadUrl("scheme", scheme=scheme or "?")
    database = unquote(parts.path.lstrip("/"))
    missing = tuple(name for name, present in (("host", parts.hostname), ("user", parts.username),
                                               ("database", database)) if not present)
    if missing:
        raise BadUrl("incomplete", scheme=scheme, missing=missing)
    sslmode = dict(parse_qsl(parts.query)).get("sslmode")
    return DbUrl(scheme, parts.hostname or "", port, database, unquote(parts.username or ""),
                 unquote(parts.password or ""), sslmode if sslmode in SSL_MODES else None)


def effective(variables: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable name, value) the backend would use as its database URL, or None."""
    for name in LOOKUP:
        if variables.get(name):
            return name, variables[name]
    for name, value in variables.items():
        upper = name.upper()
        if ("DATABASE" in upper or "POSTGRES" in upper) and value.strip().lower().startswith("postgres"):
            return name, value
    return None


@dataclass(frozen=True)
class ConnectResult:
    kind: str  # ok | auth | no_database | too_many | refused | dns | timeout | tls | other
    detail: str
    elapsed_ms: float


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def classify(exc: BaseException) -> str:
    import asyncpg  # loaded only where a connection is tried: a bot on SQLite never needs it (#17, memory)

    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError)
           for e in chain):
        return "auth"
    if any(isinstance(e, asyncpg.InvalidCatalogNameError) for e in chain):
        return "no_database"
    if any(isinstance(e, asyncpg.TooManyConnectionsError) for e in chain):
        return "too_many"
    if any(isinstance(e, TimeoutError) for e in chain):
        return "timeout"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text:
        return "dns"
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain) or "ssl" in text:
        return "tls"
    if (any(isinstance(e, ConnectionRefusedError) for e in chain)
            or any(isinstance(e, OSError) and e.errno == errno.ECONNREFUSED for e in chain)
            or "connection refused" in text or f"[errno {errno.ECONNREFUSED}]" in text):
        return "refused"
    return "other"


def short_detail(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    text = redact(" ".join(text.split()))
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


async def try_connect(url: DbUrl, timeout: float) -> ConnectResult:
    """Connect and run ``SELECT 1`` within ``timeout`` seconds."""
    import asyncpg

    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            conn = await asyncpg.connect(host=url.host, port=url.port, user=url.user, password=url.password,
                                         database=url.database, ssl=url.sslmode or "prefer", timeout=timeout)
            try:
                await conn.fetchval("SELECT 1")
            finally:
                await conn.close(timeout=1)
    except Exception as exc:  # every failure is evidence, classified below
        kind = classify(exc)
        detail = "timed out" if kind == "timeout" else short_detail(exc)
        return ConnectResult(kind, detail, _ms(start))
    return ConnectResult("ok", "SELECT 1", _ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
