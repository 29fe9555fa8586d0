"""Identical probes in flight share one run: fifty people typing ``/health backend`` in the same second
cause one probe, and each of them gets its result.

A run is shared only while it is in flight; the next request after it finishes starts a fresh one.
One waiter giving up (cancelled) does not cancel the run the others are waiting for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


def probe_key(service: Any, path: str | None = None) -> tuple[str, str, str, str | None]:
    """(service name, url, profile, path): what makes two probe requests identical."""
    return (service.name, service.url, service.profile, path)


class Coalescer:
    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def run(self, key: Hashable, factory: Callable[[], Awaitable[T]]) -> T:
        """The result of ``factory()``, shared with every caller that asks for ``key`` meanwhile."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an error nobody awaited any more is not logged as lost
