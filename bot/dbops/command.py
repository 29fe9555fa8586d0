"""Reading ``/db`` command text: ``<service> <verb> [arguments]``."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import timedelta

from bot.dbops.target import DbUnavailable

_AGE = re.compile(r"^(\d{1,4})([dh])$")
_BACKUP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True)
class DbArgs:
    service: str
    verb: str  # backups | backup | migrations | cleanup | restore
    reason: str = ""
    backup_id: str = ""  # restore
    target: str = ""  # cleanup: logs | jobs
    older_than: str | None = None


def older_than(text: str) -> timedelta:
    """``30d`` or ``12h``."""
    match = _AGE.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise DbUnavailable("db.cleanup.bad_age", value=text)
    return timedelta(days=int(match.group(1))) if match.group(2) == "d" else timedelta(hours=int(match.group(1)))


def parse(text: str) -> DbArgs:
    try:
        words = shlex.split(text.translate(_QUOTES))
    except ValueError:
        raise DbUnavailable("db.bad_quotes") from None
    reason = ""
    if "--reason" in words:
        at = words.index("--reason")
        reason, words = " ".join(words[at + 1:]), words[:at]
    if len(words) < 2:
        raise DbUnavailable("db.usage")
    service, verb, rest = words[0], words[1], words[2:]
    if verb in ("backups", "backup", "migrations") and not rest:
        return DbArgs(service=service, verb=verb, reason=reason)
    if verb == "restore" and len(rest) == 1 and _BACKUP_ID.match(rest[0]):
        return DbArgs(service=service, verb=verb, reason=reason, backup_id=rest[0])
    if verb == "cleanup" and rest and rest[0] in ("logs", "jobs"):
        target, options = rest[0], rest[1:]
        if not options:
            return DbArgs(service=service, verb=verb, reason=reason, target=target)
        if len(options) == 2 and options[0] == "--older-than":
            older_than(options[1])
            return DbArgs(service=service, verb=verb, reason=reason, target=target, older_than=options[1])
    raise DbUnavailable("db.usage")
