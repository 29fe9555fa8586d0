"""Fold log lines into entries (a head line and its stack trace), count them, and name the repeats.

Levels: the level a line prints wins (the backend's winston lines all go to stdout, so Railway marks
``[error]`` lines as info); Railway's severity is used when the line prints none. Lines the bot's own
probes caused (``bot.common.identity.is_own_traffic``) are shown but not counted against the service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.changes.logscan import LogBlock, blocks, clean
from bot.common.identity import is_own_traffic

LEVELS = ("error", "warn", "info", "debug")
_LEVEL_NAMES = {"err": "error", "error": "error", "fatal": "error", "crit": "error", "critical": "error",
                "warning": "warn", "warn": "warn", "info": "info", "notice": "info", "http": "info",
                "debug": "debug", "verbose": "debug", "silly": "debug", "trace": "debug"}
MAX_TRACE_LINES = 40
TOP = 3


def level_of(block: LogBlock) -> str:
    """The entry's level: the one its line prints, else Railway's severity, else info."""
    for raw in (block.level, block.severity):
        if raw and raw.lower() in _LEVEL_NAMES:
            return _LEVEL_NAMES[raw.lower()]
    return "info"


@dataclass
class Entry:
    """One folded entry: its head and trace, shown once with ``count`` for consecutive repeats."""

    timestamp: datetime | None
    severity: str
    head: str
    trace: list[str]
    count: int = 1
    own: bool = False
    deployment_id: str | None = None
    more_lines: int = 0  # trace lines left out beyond MAX_TRACE_LINES

    @property
    def message(self) -> str:
        return "\n".join([self.head, *self.trace])


@dataclass
class Folded:
    entries: list[Entry]  # oldest first
    lines: int  # raw lines read
    counts: dict[str, int] = field(default_factory=dict)  # entries by level, own traffic left out
    own: int = 0
    top: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(e.count for e in self.entries)

    @property
    def deployment_ids(self) -> set[str]:
        return {e.deployment_id for e in self.entries if e.deployment_id}


def _entry(block: LogBlock) -> Entry:
    trace = [clean(line) for line in block.lines[1:MAX_TRACE_LINES + 1]]
    return Entry(timestamp=block.timestamp, severity=level_of(block), head=clean(block.head), trace=trace,
                 own=is_own_traffic(block.text),
                 deployment_id=getattr(block.entry, "deployment_id", None),
                 more_lines=max(0, len(block.lines) - 1 - MAX_TRACE_LINES))


def fold(lines: Iterable, level: str | None = None) -> Folded:
    """Entries from Railway log lines (oldest first), keeping only ``level`` when given."""
    read = list(lines)
    entries: list[Entry] = []
    counts: Counter[str] = Counter()
    repeats: Counter[str] = Counter()
    own = 0
    for block in blocks(read):
        entry = _entry(block)
        if level and entry.severity != level:
            continue
        if entry.own:
            own += 1
        else:
            counts[entry.severity] += 1
            repeats[entry.head] += 1
        last = entries[-1] if entries else None
        if last and (last.head, last.trace, last.severity, last.own) == (entry.head, entry.trace, entry.severity,
                                                                          entry.own):
            last.count += 1
            last.timestamp = entry.timestamp or last.timestamp
            continue
        entries.append(entry)
    top = [(head, n) for head, n in repeats.most_common(TOP) if n > 1]
    return Folded(entries=entries, lines=len(read), counts={k: counts[k] for k in LEVELS if counts[k]}, own=own,
                  top=top)
