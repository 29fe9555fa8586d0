"""Real PostgreSQL databases standing in for the data on the Railway emulator's volumes.

A volume linked to a database (``RailwayEmulator(databases={volume_id: dsn})``) is backed up for real:
a backup is a copy (``CREATE DATABASE <copy> TEMPLATE <database>``), and a restore replaces the
database with the copy (``DROP DATABASE … WITH (FORCE)``, then ``CREATE DATABASE … TEMPLATE <copy>``),
so tests see exactly what a restore loses. Each copy runs as the backup's or restore's workflow:
Running until the copy is done, Error if it fails, and a backup is listed only once its copy exists.
PostgreSQL copies a template only while nobody is connected to it, as Railway snapshots a volume
while the database is quiet.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping

import asyncpg

from sandbox.emulators.railway_world import BackupRecord, WorkflowRecord


def _split(dsn: str) -> tuple[str, str]:
    base, _, name = dsn.rpartition("/")
    return base, name.split("?")[0]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class VolumeDatabases:
    def __init__(self, databases: Mapping[str, str]) -> None:
        self.databases = dict(databases)  # volume id -> DSN of the database holding its data
        self.copies: dict[str, tuple[str, str]] = {}  # backup id -> (server, name of the database copy)
        self._tasks: set[asyncio.Task] = set()

    def __contains__(self, volume_id: str) -> bool:
        return volume_id in self.databases

    def backup(self, volume_id: str, flow: WorkflowRecord, backup: BackupRecord) -> None:
        """Copy the volume's database; the backup is listed, and its workflow completes, once it exists."""
        base, name = _split(self.databases[volume_id])
        copy = f"{name}_bk_{backup.id.replace('-', '')[:12]}"
        flow.ready_at = backup.ready_at = math.inf

        async def run() -> None:
            try:
                await self._admin(base, f"CREATE DATABASE {_ident(copy)} TEMPLATE {_ident(name)}")
            except Exception as exc:
                flow.error, flow.ready_at = f"{type(exc).__name__}: {exc}", time.time()
                return
            self.copies[backup.id] = (base, copy)
            flow.ready_at = backup.ready_at = time.time()

        self._spawn(run())

    def restore(self, volume_id: str, flow: WorkflowRecord, backup_id: str) -> None:
        """Replace the volume's database with the backup's copy (what the restore loses is gone)."""
        base, name = _split(self.databases[volume_id])
        copy = self.copies.get(backup_id, (base, None))[1]
        flow.ready_at = math.inf

        async def run() -> None:
            try:
                if copy is None:
                    raise LookupError(f"backup {backup_id} has no data copy")
                await self._admin(base, f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
                await self._admin(base, f"CREATE DATABASE {_ident(name)} TEMPLATE {_ident(copy)}")
            except Exception as exc:
                flow.error = f"{type(exc).__name__}: {exc}"
            flow.ready_at = time.time()

        self._spawn(run())

    async def close(self) -> None:
        """Stop copying, and drop the copies made."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for base, copy in self.copies.values():
            await self._admin(base, f"DROP DATABASE IF EXISTS {_ident(copy)} WITH (FORCE)")
        self.copies.clear()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _admin(base: str, statement: str) -> None:
        conn = await asyncpg.connect(f"{base}/postgres", timeout=10)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
