"""Running the real bot in-process on loopback: used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from bot.app import Registrar, build_bolt_app
from bot.config import ServicesFile
from bot.runtime import Runtime, build_runtime
from bot.server import start_runtime
from bot.settings import Settings
from bot.web import SLACK_PATH, build_web_app


def listening_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass
class RunningBot:
    rt: Runtime
    url: str
    runner: web.AppRunner

    @property
    def slack_url(self) -> str:
        return self.url + SLACK_PATH

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.rt.close()


async def start_bot(settings: Settings, config: ServicesFile, registrars: Iterable[Registrar],
                    host: str = "127.0.0.1") -> RunningBot:
    """Start the same runtime, Bolt app and HTTP server that ``chatops serve`` runs."""
    rt = build_runtime(settings, config)
    await start_runtime(rt)
    runner = web.AppRunner(build_web_app(rt, build_bolt_app(rt, registrars)), access_log=None)
    await runner.setup()
    sock = listening_socket(host)
    await web.SockSite(runner, sock).start()
    port = sock.getsockname()[1]
    await rt.run_hooks()
    return RunningBot(rt=rt, url=f"http://{host}:{port}", runner=runner)
