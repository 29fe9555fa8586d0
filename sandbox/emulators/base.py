"""What every emulator shares: an aiohttp app served on a loopback port, started and stopped in-process."""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol, Self

from aiohttp import web


class LoopbackServer:
    """Subclasses build their app in ``build_app``; ``start`` serves it and returns the base URL."""

    url: str | None = None
    _runner: web.AppRunner | None = None

    def build_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class Servable(Protocol):
    async def start(self, host: str = ..., port: int = ...) -> str: ...
    async def stop(self) -> None: ...


async def serve_until_signalled(server: Servable, host: str, port: int, suffix: str = "") -> None:
    """Run an emulator standalone: start it, print its URL (plus ``suffix``), stop on SIGINT or SIGTERM."""
    print(await server.start(host, port) + suffix, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
