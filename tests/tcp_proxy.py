"""A loopback TCP forwarder a test can cut and restore, to make a real database 'go away', or stall and
resume, to make it 'hang': connections stay open (new ones are accepted) but no byte passes either way."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.held = 0  # chunks that arrived while stalled (the peer spoke and got no answer)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port or 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        """Close the listener and every open connection: the database is unreachable."""
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        self._flowing.set()

    async def restore(self) -> None:
        await self.start()

    def stall(self) -> None:
        """Accept and keep connections, but pass nothing on: a server that never answers."""
        self.held = 0
        self._flowing.clear()

    def resume(self) -> None:
        """Pass on what was held, in order, and everything after it."""
        self._flowing.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if not self._flowing.is_set():
                        self.held += 1
                        await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
