"""A bounded pool for work that runs after the ack.

A fixed number of workers drain a bounded queue, so a burst of commands can never starve the
event loop that sends acks; when the queue is full the caller is told at once (and tells the user
"busy") instead of piling up tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.common import log, metrics

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class QueueFull(Exception):
    """The pool is saturated; try again in a moment."""


@dataclass
class _Item:
    name: str
    job: Job
    correlation_id: str | None


class JobPool:
    def __init__(self, workers: int = 10, queue_size: int = 500) -> None:
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_size)
        self._workers_count = workers
        self._workers: list[asyncio.Task] = []

    def start(self) -> None:
        if not self._workers:
            self._workers = [asyncio.create_task(self._worker(i), name=f"job-worker-{i}")
                             for i in range(self._workers_count)]

    def submit(self, name: str, job: Job) -> None:
        """Queue ``job``; raise QueueFull instead of waiting when there is no room."""
        try:
            self._queue.put_nowait(_Item(name, job, log.correlation_id.get()))
        except asyncio.QueueFull:
            metrics.JOBS_REJECTED.labels(name).inc()
            raise QueueFull(name) from None
        metrics.JOBS_QUEUED.set(self._queue.qsize())

    async def join(self) -> None:
        await self._queue.join()

    async def stop(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []

    async def _worker(self, index: int) -> None:
        while True:
            item = await self._queue.get()
            token = log.correlation_id.set(item.correlation_id)
            try:
                with metrics.JOB_SECONDS.labels(item.name).time():
                    await item.job()
            except Exception:
                metrics.JOB_ERRORS.labels(item.name).inc()
                logger.exception("job failed", extra={"job": item.name})
            finally:
                log.correlation_id.reset(token)
                self._queue.task_done()
                metrics.JOBS_QUEUED.set(self._queue.qsize())
