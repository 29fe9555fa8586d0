"""What ``/logs`` and ``chatops logs`` ask Railway for: parsing the arguments, building Railway's filter,
reading one window of lines.

Without ``--deployment`` the service's lines come from ``environmentLogs`` filtered with
``@service:<id>`` (so a correlation id is found across redeploys); with it, from ``deploymentLogs``.
The text goes to Railway as its filter (words must all appear, ``"a phrase"``, ``-word``). The level
is applied here, not with Railway's ``@level:``: Railway's level is the stream a line was written to,
and the backend writes its ``[error]`` lines to stdout.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.config.services import ServiceConfig, ServicesFile
from bot.i18n import CatalogueError
from bot.logs.fold import LEVELS, Folded, fold
from bot.railway import RailwayClient, format_time, parse_time

MAX_LINES = 5000  # Railway's cap on one log query
MAX_TEXT = 300
MAX_SINCE = timedelta(days=30)
DEFAULT_SINCE = "1h"
_SINCE = re.compile(r"^(\d{1,5})([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class LogsUsage(CatalogueError):
    """The /logs text cannot be understood; the sentence says how to use it."""


@dataclass(frozen=True)
class LogQuery:
    service: str
    text: str = ""
    since: str = DEFAULT_SINCE
    level: str | None = None
    deployment_id: str | None = None
    share: bool = False
    end: datetime | None = None  # fixed by the first page so "More" pages through the same window
    offset: int = 0  # entries already shown, counted from the newest

    @property
    def since_delta(self) -> timedelta:
        match = _SINCE.match(self.since)
        assert match, self.since
        return timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])

    def pinned(self, now: datetime | None = None) -> LogQuery:
        return self if self.end else replace(self, end=now or datetime.now(UTC))

    def to_value(self) -> str:
        """The query as a button value (Slack allows 2,000 characters; the text is capped at 300)."""
        return json.dumps({"s": self.service, "t": self.text, "f": self.since, "l": self.level,
                           "d": self.deployment_id, "sh": self.share,
                           "e": format_time(self.end) if self.end else None, "o": self.offset},
                          separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_value(cls, value: str) -> LogQuery:
        try:
            data = json.loads(value)
            query = cls(service=str(data["s"]), text=str(data.get("t") or ""), since=str(data.get("f")),
                        level=data.get("l"), deployment_id=data.get("d"), share=bool(data.get("sh")),
                        end=parse_time(data["e"]) if data.get("e") else None, offset=int(data.get("o") or 0))
        except (ValueError, KeyError, TypeError):
            raise LogsUsage("logs.bad_button") from None
        _check(query)
        return query


def _check(query: LogQuery) -> None:
    match = _SINCE.match(query.since)
    if not match:
        raise LogsUsage("logs.bad_since", value=query.since)
    if timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)]) > MAX_SINCE or int(match.group(1)) == 0:
        raise LogsUsage("logs.since_range", value=query.since)
    if query.level is not None and query.level not in LEVELS:
        raise LogsUsage("logs.bad_level", value=query.level, levels=", ".join(LEVELS))
    if query.deployment_id is not None and not _DEPLOYMENT_ID.match(query.deployment_id):
        raise LogsUsage("logs.bad_deployment", value=query.deployment_id)
    if len(query.text) > MAX_TEXT:
        raise LogsUsage("logs.text_too_long", limit=MAX_TEXT)
    if query.offset < 0:
        raise LogsUsage("logs.bad_button")


_OPTIONS = {"--since": "since", "--level": "level", "--deployment": "deployment_id"}


def parse(text: str, *, allow_share: bool = True) -> LogQuery:
    """``<service> [text or correlation id] [--since 30m] [--level …] [--deployment <id>] [--share]``."""
    try:
        words = shlex.split(text.translate(_QUOTES))
    except ValueError:
        raise LogsUsage("logs.bad_quotes") from None
    if not words or words[0].startswith("-"):
        raise LogsUsage("logs.usage")
    service, rest = words[0], words[1:]
    values: dict[str, str] = {}
    terms: list[str] = []
    share = False
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in _OPTIONS:
            if i + 1 >= len(rest):
                raise LogsUsage("logs.missing_value", option=word)
            values[_OPTIONS[word]] = rest[i + 1]
            i += 2
            continue
        if word == "--share" and allow_share:
            share = True
        elif word.startswith("--"):
            raise LogsUsage("logs.unknown_option", option=word)
        else:
            terms.append(f'"{word}"' if " " in word and not word.startswith('"') else word)
        i += 1
    query = LogQuery(service=service, text=" ".join(terms), since=values.get("since", DEFAULT_SINCE).lower(),
                     level=values["level"].lower() if "level" in values else None,
                     deployment_id=values.get("deployment_id"), share=share)
    _check(query)
    return query


def configured_service(config: ServicesFile, name: str) -> ServiceConfig:
    service = config.service(name)
    if service is None:
        raise LogsUsage("common.unknown_service", name=name, known=", ".join(config.service_names))
    if service.railway is None:
        raise LogsUsage("logs.no_railway", service=name)
    return service


@dataclass(frozen=True)
class LogWindow:
    query: LogQuery
    folded: Folded
    start: datetime
    end: datetime
    capped: bool  # Railway returned as many lines as asked: older ones in the window were not read

    @property
    def deployment_id(self) -> str | None:
        if self.query.deployment_id:
            return self.query.deployment_id
        ids = self.folded.deployment_ids
        return next(iter(ids)) if len(ids) == 1 else None


async def read(railway: RailwayClient | None, service: ServiceConfig, query: LogQuery,
               limit: int = MAX_LINES) -> LogWindow:
    """One window of the service's lines, folded and counted (``query.end`` fixes the window)."""
    if railway is None:
        raise LogsUsage("logs.no_token")
    query = query.pinned()
    end = query.end or datetime.now(UTC)
    start = end - query.since_delta
    if query.deployment_id:
        lines = await railway.deployment_logs(query.deployment_id, filter=query.text or None, limit=limit,
                                              start=start, end=end)
    else:
        ids = await railway.resolve(service.railway)
        railway_filter = f"@service:{ids.service_id} {query.text}".strip()
        lines = await railway.environment_logs(ids.environment_id, filter=railway_filter, limit=limit,
                                               start=start, end=end)
    return LogWindow(query=query, folded=fold(lines, query.level), start=start, end=end,
                     capped=len(lines) >= limit)


def to_json(window: LogWindow) -> dict:
    """The shape ``chatops logs --json`` prints."""
    return {
        "service": window.query.service,
        "deployment_id": window.deployment_id,
        "entries": [{"timestamp": format_time(e.timestamp) if e.timestamp else None, "severity": e.severity,
                     "message": e.message, "count": e.count} for e in window.folded.entries],
        "top": [{"message": m, "count": n} for m, n in window.folded.top],
    }
