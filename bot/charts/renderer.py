"""Charts rendered off the event loop, bounded in time and memory: a worker process draws them.

The bot's own process never imports matplotlib: ``python -m bot.charts.worker`` does, started on the
first chart and kept for the next ones. Each render is bounded by ``timeout`` seconds (the worker is
killed and started afresh on the next chart) and the worker's address space by ``memory_mb``
(``RLIMIT_AS``). A chart that cannot be drawn is reported as ``ChartFailed``; callers post their text
without it, since every message that carries a chart also stands alone without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import struct
import sys
import time

from bot.charts.spec import ChartSpec
from bot.common import metrics

logger = logging.getLogger(__name__)

MAX_PNG = 5 * 1024 * 1024  # a phone-sized PNG is ~100 kB; anything near this is a bug in the worker
START_SECONDS = 30.0  # importing matplotlib on a busy 2-core machine


class ChartFailed(Exception):
    """No chart: too slow, out of memory, a bad spec, or the worker died. The message says which."""


class ChartRenderer:
    def __init__(self, *, timeout: float = 10.0, memory_mb: int = 512) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    @property
    def worker_pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    async def render(self, spec: ChartSpec) -> bytes:
        """The chart as PNG bytes, or ChartFailed."""
        request = json.dumps(spec.to_json(), ensure_ascii=False).encode()
        async with self._lock:  # one render at a time: the worker is single-threaded by design
            started = time.perf_counter()
            try:
                proc = await self._worker()
                png = await asyncio.wait_for(self._exchange(proc, request), self.timeout)
            except (TimeoutError, ChartFailed, OSError, asyncio.IncompleteReadError) as exc:
                await self._kill()
                metrics.CHARTS.labels("failed").inc()
                reason = f"no answer within {self.timeout:g} s" if isinstance(exc, TimeoutError) else str(exc)
                raise ChartFailed(reason or type(exc).__name__) from None
            metrics.CHART_SECONDS.observe(time.perf_counter() - started)
        metrics.CHARTS.labels("ok").inc()
        return png

    async def _worker(self) -> asyncio.subprocess.Process:
        if self._proc is not None and self._proc.returncode is None:
            return self._proc
        env = {**os.environ, "CHATOPS_CHART_MEMORY_MB": str(self.memory_mb), "MPLBACKEND": "Agg",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.charts.worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
        self._proc = proc
        try:
            ready = await asyncio.wait_for(proc.stdout.readexactly(1), START_SECONDS)
        except (TimeoutError, asyncio.IncompleteReadError):
            raise ChartFailed("the chart worker did not start") from None
        if ready != b"R":
            raise ChartFailed("the chart worker did not start")
        return proc

    async def _exchange(self, proc: asyncio.subprocess.Process, request: bytes) -> bytes:
        proc.stdin.write(struct.pack(">I", len(request)) + request)
        await proc.stdin.drain()
        length, status = struct.unpack(">IB", await proc.stdout.readexactly(5))
        if length > MAX_PNG:
            raise ChartFailed(f"the worker answered {length} bytes")
        payload = await proc.stdout.readexactly(length)
        if status != 0:
            raise ChartFailed(payload.decode("utf-8", "replace"))
        return payload

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)

    async def close(self) -> None:
        """Stop the worker (closing its stdin ends it; killed if it does not end in a moment)."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            self._proc = None
            return
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2)
        except TimeoutError:
            await self._kill()
        self._proc = None
