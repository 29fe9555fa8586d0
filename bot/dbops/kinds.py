"""The database changes the approval flow runs (``RollbackFlow.add_kind``), built for one runtime."""

from __future__ import annotations

from bot.dbops.backups import BackupKind
from bot.dbops.cleanup import CleanupKind
from bot.dbops.restore import RestoreKind
from bot.runtime import Runtime


def change_kinds(rt: Runtime, holder: str) -> list:
    """``holder`` names this process in the leases its changes hold (``bot.changes.holding``)."""
    return [BackupKind(rt, holder), CleanupKind(rt, holder), RestoreKind(rt, holder)]
