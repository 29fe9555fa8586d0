"""Running the real bot in-process on loopback: used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.config.services import ServicesFile
from bot.config.settings import Settings
from bot.main import ChatOps, build
from bot.runtime import Runtime
from bot.serve import start_runtime, web_app
from bot.slack.http import SLACK_PATH, build_runner


def listening_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass
class RunningBot:
    chatops: ChatOps
    url: str
    runner: web.AppRunner

    @property
    def rt(self) -> Runtime:
        return self.chatops.rt

    @property
    def slack_url(self) -> str:
        return self.url + SLACK_PATH

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.chatops.close()

    async def crash(self) -> None:
        """Stop as a crashed replica would: no lease released, no heartbeat removed."""
        await self.runner.cleanup()
        await self.rt.close()


async def start_bot(settings: Settings, config: ServicesFile, host: str = "127.0.0.1") -> RunningBot:
    """Start the bot the composition root builds, with the runtime and HTTP server ``chatops serve`` runs."""
    chatops = build(settings, config)
    await start_runtime(chatops.rt)
    runner = build_runner(chatops.rt, web_app(chatops))
    await runner.setup()
    sock = listening_socket(host)
    await web.SockSite(runner, sock).start()
    port = sock.getsockname()[1]
    await chatops.start_duties()
    return RunningBot(chatops=chatops, url=f"http://{host}:{port}", runner=runner)


def free_port(host: str = "127.0.0.1") -> int:
    sock = listening_socket(host)
    port = sock.getsockname()[1]
    sock.close()
    return port


@dataclass
class ServerProcess:
    """``chatops serve`` in a process of its own (a replica, for tests and benchmarks)."""

    proc: asyncio.subprocess.Process
    url: str

    @property
    def slack_url(self) -> str:
        return self.url + SLACK_PATH

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def chatops_executable() -> str:
    return str(Path(sys.executable).with_name("chatops"))


async def start_server_process(env: dict[str, str], cwd: Path, timeout: float = 30.0) -> ServerProcess:
    """Start ``chatops serve`` on a free loopback port and wait until its /ready answers 200."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        chatops_executable(), "serve", "--host", "127.0.0.1", "--port", str(port), env=env, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    server = ServerProcess(proc, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline and proc.returncode is None:
            try:
                async with http.get(server.url + "/ready") as resp:
                    if resp.status == 200:
                        return server
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    await server.stop()
    raise RuntimeError(f"chatops serve did not become ready (exit code {proc.returncode})")


async def migrate_with_cli(env: dict[str, str], cwd: Path) -> None:
    proc = await asyncio.create_subprocess_exec(chatops_executable(), "migrate", env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.DEVNULL)
    if await proc.wait() != 0:
        raise RuntimeError("chatops migrate failed")
