"""Read the backend's logs the way a person scanning Railway's log view would.

The real backend (target-backend.md §4-§7) mixes winston lines with ANSI-coloured levels, plain
``console.log`` lines and multi-line blocks (Node's printout of an error object, the pretty JSON after
``[VERCEL-PROXY]``, the indented lines under ``❌ ERROR CRÍTICO …``). Railway stores one entry per
stdout line, and sometimes one entry with embedded newlines; both are handled: lines are grouped into
blocks (a head line plus its indented or closing-brace continuations), and every pattern is counted at
most once per block.

A connection error (``ECONNREFUSED``, ``ETIMEDOUT``, ``ENOTFOUND``, …) is recorded by the address it
names, not by the name of a dependency: the real backend prints a Redis outage as bare Node errors
(``Error: connect ECONNREFUSED 127.0.0.1:6390`` and an indented object, thousands a minute), so only
the address tells a Redis failure from a database one (``playbooks.dependencies`` attributes it).

Lines the bot's own requests caused (they carry its correlation id or User-Agent,
``bot.common.identity``) are dropped before anything is counted: a probe without auth makes the real
backend log an error-level line, and that is not the service's failure.

Everything kept from a line is ANSI-stripped, redacted and shortened.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.common.identity import is_own_traffic
from bot.common.redact import MASK, redact

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_WINSTON = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z? \[(?P<level>[a-zA-Z]+)\]: ")
# A URL cut short before its "@" (the backend prints the first 50 characters of a DATABASE_URL with a
# wrong scheme): whatever follows "scheme://user:" may be part of a password, unless it is a port.
_CUT_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)(?!\d+(?:[/\s?#]|$))(?![^\s]*@)\S+")
# That warning line may print a value without any scheme at all: keep nothing after it.
_BAD_URL_LINE = re.compile(r"(DATABASE_URL tiene formato inválido:?).*")
# Node's network errors: "connect ECONNREFUSED host:port" (IPv6 unbracketed: "fd12::7:5432"),
# "connect ETIMEDOUT host:port", "getaddrinfo ENOTFOUND host" (no port).
CONNECTION_ERROR = re.compile(r"\b(?P<code>ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|ECONNRESET)"
                              r"\s+(?P<address>\[[0-9a-fA-F:]+\](?::\d+)?|[0-9a-fA-F]*::?[0-9a-fA-F:]*:\d+"
                              r"|[\w.-]+(?::\d+)?)")
_REDIS_HEAD = re.compile(r"(?i)redis (connection )?error|\[ioredis\]")
MAX_TEXT = 240
_MAX_INPUT = 1000  # redaction cost grows with length: cut absurd lines first

# Pattern name → regex, matched against the whole text of a block.
PATTERNS: dict[str, re.Pattern[str]] = {
    # database (§4 DATABASE_URL, §5)
    "p1000": re.compile(r"\bP1000\b|Authentication failed against database server"),
    "p1001": re.compile(r"\bP1001\b|Can't reach database server"),
    "prisma_error": re.compile(r"Prisma\w*Error|prisma:error|Invalid `prisma\.|Prisma connect fail"),
    "db_connect_retry": re.compile(r"Database connection attempt \d+/\d+ failed"),
    "db_connect_failed": re.compile(r"Database connection failed after \d+ attempts|Database connection timeout after"),
    "db_connected": re.compile(r"Database connected successfully|Prisma connect ok"),
    "db_url_missing": re.compile(r"DATABASE_URL no (encontrada|configurada|está configurada)"),
    "db_url_invalid": re.compile(r"DATABASE_URL (tiene formato inválido|está incompleta|está vacía)"
                                 r"|Variable Reference no resuelta"),
    "migrations_failed": re.compile(r"Database migrations failed"),
    # secrets (§4 JWT_SECRET / ENCRYPTION_KEY)
    "encryption_key_validation_failed": re.compile(r"ENCRYPTION_KEY validation failed"),
    "encryption_key_invalid": re.compile(r"ERROR CRÍTICO DE SEGURIDAD: ENCRYPTION_KEY no válida"),
    "jwt_secret_short": re.compile(r"ERROR CRÍTICO: JWT_SECRET no está configurado o es muy corto"),
    "secrets_degraded": re.compile(r"ENCRYPTION_KEY or JWT_SECRET not configured or too short"),
    "missing_required_env": re.compile(r"Missing required env in production"),
    "encryption_key_ok": re.compile(r"ENCRYPTION_KEY validada|Encryption key validated"),
    "encryption_key_from_jwt": re.compile(r"ENCRYPTION_KEY configurada desde JWT_SECRET"),
    "jwt_secret_ok": re.compile(r"✅ JWT_SECRET: Configurado \("),
    # redis and memory (§4 REDIS_URL, §6)
    "redis_error": re.compile(r"(?i)redis (connection )?error"),
    "redis_connected": re.compile(r"Redis connected"),
    "redis_unavailable": re.compile(r"Redis not available - skipping job workers"),
    "heap_error": re.compile(r"JavaScript heap out of memory|Reached heap limit|Allocation failed|\bENOMEM\b"
                             r"|(?i:out of memory)"),
    # Failures only: a healthy boot prints "SAFE_AUTH_STATUS_MODE enabled in production - skipping
    # Chromium lazy-load", which names the browser without anything going wrong.
    "browser_error": re.compile(r"(?i)failed to launch the browser|browser (has )?disconnected|\btarget closed\b"
                                r"|protocol error \(|navigation timeout of \d+ ?ms exceeded"
                                r"|puppeteer\b[^\n]*\b(error|failed|crash(ed)?)\b"
                                r"|chrom(e|ium)\b[^\n]*\b(crash(ed)?|failed to launch|not found|error)\b"),
    "overload": re.compile(r"\[Overload Protection\] System overloaded"),
    "high_memory": re.compile(r"High memory usage detected|memory_high_(rss|heap)"),
    # process
    "uncaught_exception": re.compile(r"UNCAUGHT EXCEPTION"),
    "unhandled_rejection": re.compile(r"UNHANDLED REJECTION"),
    "fatal": re.compile(r"\bFATAL\b"),
    "eaddrinuse": re.compile(r"EADDRINUSE"),
    "shutdown": re.compile(r"Shutting down gracefully"),
    "cors_rejected": re.compile(r"CORS REJECT|CORS blocked:"),
    # boot (§7; the runbook's "Server running on port" line is never printed by the code)
    "listening": re.compile(r"SERVER_BOOT_OK|✅ LISTENING OK|\[STARTUP\] Listening on port"),
    "app_loaded": re.compile(r"\[BOOT\] Express app loaded|Server running on port"),
}
# What the runbook says to search for (Incident Response → Logs), plus ❌ and winston error levels.
# Lines after which the process is gone (§1 crash policy: FATAL, out of memory, port in use).
_STOPS = ("eaddrinuse", "heap_error", "fatal")
_ERROR_MARK = re.compile(r"\b(ERROR|FATAL|UNCAUGHT EXCEPTION|UNHANDLED REJECTION)\b|❌")


@dataclass(frozen=True)
class LogHit:
    pattern: str
    text: str  # the block's head line: ANSI-stripped, redacted, shortened
    timestamp: datetime | None
    detail: str | None = None  # e.g. the address of a refused connection


@dataclass(frozen=True)
class ConnectionErrors:
    """The blocks whose network error names one address (``host:port``, or a host for ENOTFOUND)."""

    address: str
    count: int
    codes: tuple[str, ...]
    said_redis: bool  # some block's head named Redis: a hint when REDIS_URL is not known
    first: LogHit
    last: LogHit

    @property
    def host(self) -> str:
        return split_address(self.address)[0]

    @property
    def port(self) -> int | None:
        return split_address(self.address)[1]


def split_address(address: str) -> tuple[str, int | None]:
    """(host, port) of ``host:port``, ``[v6]:port`` or a bare host."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        # "host:port", or an IPv6 address as Node prints it ("fd12::7:5432": the last part is the port)
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
    return host.lower(), int(port) if port.isdigit() else None


@dataclass(frozen=True)
class LogScan:
    matched: dict[str, int]
    errors: list[LogHit]  # the first error blocks (see ``error_count`` for all)
    error_count: int
    boot_ok: bool  # the Express app attached and nothing stopped the boot after that
    listening: bool  # the HTTP listener came up (``/health`` answers), app loaded or not
    blocks: int
    first: dict[str, LogHit] = field(default_factory=dict)
    last: dict[str, LogHit] = field(default_factory=dict)
    # How many blocks matched exactly this set of patterns.
    combinations: dict[frozenset[str], int] = field(default_factory=dict)
    # Network errors by the address they name, most frequent first.
    connection_errors: dict[str, ConnectionErrors] = field(default_factory=dict)
    # Blocks dropped because the bot's own requests caused them.
    own_traffic: int = 0

    def count(self, *names: str) -> int:
        """Matches of these patterns added up (a block matching two of them counts twice)."""
        return sum(self.matched.get(n, 0) for n in names)

    def blocks_with(self, *names: str) -> int:
        """Blocks that match at least one of these patterns."""
        wanted = set(names)
        return sum(n for combo, n in self.combinations.items() if combo & wanted)

    def sample(self, *names: str) -> LogHit | None:
        """The most recent hit among ``names``."""
        hits = [self.last[n] for n in names if n in self.last]
        dated = [h for h in hits if h.timestamp is not None]
        if dated:
            return max(dated, key=lambda h: h.timestamp)  # type: ignore[arg-type,return-value]
        return hits[0] if hits else None

    def span_seconds(self, name: str) -> float | None:
        first, last = self.first.get(name), self.last.get(name)
        if not first or not last or first.timestamp is None or last.timestamp is None:
            return None
        return (last.timestamp - first.timestamp).total_seconds()


@dataclass
class LogBlock:
    """A head line and its continuations; ``level`` is the one the line prints (winston, JSON), ``severity``
    Railway's (the stream it was written to), ``entry`` the log entry the head came from."""

    lines: list[str]
    timestamp: datetime | None
    level: str | None
    severity: str | None = None
    entry: Any = None

    @property
    def head(self) -> str:
        return self.lines[0]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def clean(text: str) -> str:
    """One line as it may be shown: no ANSI codes, no secrets, at most ``MAX_TEXT`` characters."""
    text = ANSI.sub("", text[: _MAX_INPUT * 2]).strip()[:_MAX_INPUT]
    text = _BAD_URL_LINE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _CUT_URL.sub(lambda m: m.group(1) + MASK, text)
    text = redact(text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _is_continuation(line: str) -> bool:
    stripped = line.strip()
    return (line[:1].isspace() or stripped[:1] in ("}", "]", ")") or stripped in ("{", "[")
            or stripped.startswith("at "))


def _entry_parts(entry: Any) -> tuple[str, datetime | None, str | None]:
    message = getattr(entry, "message", entry)
    return str(message), getattr(entry, "timestamp", None), getattr(entry, "severity", None)


def _level(line: str) -> tuple[str | None, str]:
    """(level, message) of a winston console line or a JSON log line; (None, line) otherwise."""
    match = _WINSTON.match(line)
    if match:
        return match.group("level").lower(), line[match.end():]
    if line.startswith("{") and line.endswith("}"):
        try:
            data = json.loads(line)
        except ValueError:
            return None, line
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            meta = {k: v for k, v in data.items() if k not in ("level", "message", "timestamp")}
            level = data.get("level")
            return (str(level).lower() if level else None), f"{data['message']} {json.dumps(meta)}"
    return None, line


def blocks(entries: Iterable[Any]) -> list[LogBlock]:
    """Group log entries (strings or ``LogLine``s, possibly multi-line) into blocks."""
    out: list[LogBlock] = []
    for entry in entries:
        message, timestamp, severity = _entry_parts(entry)
        for raw in ANSI.sub("", message).splitlines():
            if not raw.strip():
                continue
            if out and _is_continuation(raw):
                out[-1].lines.append(raw)
                continue
            level, text = _level(raw.rstrip())
            out.append(LogBlock([text], timestamp, level, severity, entry))
    return out


def _is_error(block: LogBlock) -> bool:
    if block.level in ("error", "fatal", "crit", "critical"):
        return True
    return bool(_ERROR_MARK.search(block.head))


def scan(entries: Iterable[Any], *, max_errors: int = 20) -> LogScan:
    """Count the known patterns in ``entries`` (strings or ``LogLine``s, in time order)."""
    matched: dict[str, int] = {}
    first: dict[str, LogHit] = {}
    last: dict[str, LogHit] = {}
    errors: list[LogHit] = []
    combinations: Counter[frozenset[str]] = Counter()
    refused: dict[str, dict[str, Any]] = {}
    error_count = own = 0
    app_loaded_at = stopped_at = listening_at = -1
    grouped = blocks(entries)

    def hit(name: str, block: LogBlock, detail: str | None = None) -> None:
        matched[name] = matched.get(name, 0) + 1
        found = LogHit(name, clean(block.head), block.timestamp, detail)
        first.setdefault(name, found)
        last[name] = found

    for index, block in enumerate(grouped):
        text = block.text
        if is_own_traffic(text):
            own += 1
            continue
        names = [name for name, pattern in PATTERNS.items() if pattern.search(text)]
        for name in names:
            hit(name, block)
        network = CONNECTION_ERROR.search(text)
        if network:
            _note_connection_error(refused, network, block)
        if names:
            combinations[frozenset(names)] += 1
        if _is_error(block):
            error_count += 1
            if len(errors) < max_errors:
                errors.append(LogHit("error", clean(block.head), block.timestamp))
        if PATTERNS["app_loaded"].search(text):
            app_loaded_at = index
        if PATTERNS["listening"].search(text):
            listening_at = index
        if any(PATTERNS[name].search(text) for name in _STOPS):
            stopped_at = index
    by_address = {a: ConnectionErrors(a, r["count"], tuple(r["codes"]), r["said_redis"], r["first"], r["last"])
                  for a, r in sorted(refused.items(), key=lambda kv: -kv[1]["count"])}
    return LogScan(matched=matched, errors=errors, error_count=error_count,
                   boot_ok=app_loaded_at >= 0 and stopped_at < app_loaded_at,
                   listening=listening_at >= 0 and stopped_at < listening_at,
                   blocks=len(grouped) - own, first=first, last=last, combinations=dict(combinations),
                   connection_errors=by_address, own_traffic=own)


def _note_connection_error(seen: dict[str, dict[str, Any]], match: re.Match[str], block: LogBlock) -> None:
    address = match.group("address").lower()
    found = LogHit(match.group("code").lower(), clean(block.head), block.timestamp, address)
    entry = seen.setdefault(address, {"count": 0, "codes": [], "said_redis": False, "first": found})
    entry["count"] += 1
    if match.group("code") not in entry["codes"]:
        entry["codes"].append(match.group("code"))
    entry["said_redis"] = entry["said_redis"] or bool(_REDIS_HEAD.search(block.head))
    entry["last"] = found
