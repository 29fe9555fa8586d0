"""The HTTP server's limits with short configured timeouts: a client dribbling its headers or body
(one byte a minute) is dropped while others are answered, and connections past the bound get 503."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from bot.common import metrics
from tests import raw_http
from tests.conftest import eventually

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""
DRIBBLE_SECONDS = 60.0  # the slow client's pace: a byte a minute, far beyond the configured limits


async def _connect(bot) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = bot.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _dribble(writer: asyncio.StreamWriter, data: bytes) -> None:
    for byte in data:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(DRIBBLE_SECONDS)


async def _answered(bot, signer, slack) -> int:
    req = signer.slash_command("/health", "nosuchservice", user_id="U1", response_url=slack.response_url())
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """What the server sent before closing; fails if it has not closed within ``within`` seconds."""
    async with asyncio.timeout(within):
        return await reader.read()


async def test_a_client_dribbling_its_headers_is_dropped_and_others_are_answered(make_bot, slack, signer):
    bot = await make_bot(SERVICES, CHATOPS_HTTP_HEADER_TIMEOUT_SECONDS=0.5)
    req = signer.slash_command("/health", "backend", user_id="U1", response_url=slack.response_url())
    slow = []
    for _ in range(3):
        reader, writer = await _connect(bot)
        slow.append((reader, writer, asyncio.create_task(_dribble(writer, raw_http.request_bytes(
            bot.slack_url, req.body, req.headers)))))
    try:
        assert await _answered(bot, signer, slack) == 200  # while the slow ones hang on
        for reader, _, _ in slow:
            # Closed after the first byte, long before the second would come.
            assert await _closed_by_server(reader, within=DRIBBLE_SECONDS - 1) == b""
    finally:
        for _, writer, task in slow:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await asyncio.wait_for(task, 30)
            writer.close()
    assert await _answered(bot, signer, slack) == 200


async def test_a_client_dribbling_its_body_gets_408_and_is_dropped(make_bot, slack, signer):
    bot = await make_bot(SERVICES, CHATOPS_HTTP_BODY_TIMEOUT_SECONDS=0.5)
    req = signer.slash_command("/health", "backend", user_id="U1", response_url=slack.response_url())
    whole = raw_http.request_bytes(bot.slack_url, req.body, req.headers)
    head = whole[: len(whole) - len(req.body)]
    before = metrics.HTTP_BODY_TIMEOUTS._value.get()
    reader, writer = await _connect(bot)
    writer.write(head)
    task = asyncio.create_task(_dribble(writer, req.body))
    try:
        assert await _answered(bot, signer, slack) == 200
        answer = await _closed_by_server(reader, within=DRIBBLE_SECONDS - 1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await asyncio.wait_for(task, 30)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert metrics.HTTP_BODY_TIMEOUTS._value.get() == before + 1


async def test_connections_past_the_bound_get_503_until_one_closes(make_bot, slack, signer):
    bot = await make_bot(SERVICES, CHATOPS_HTTP_MAX_CONNECTIONS=3, CHATOPS_HTTP_HEADER_TIMEOUT_SECONDS=60)
    before = metrics.HTTP_REFUSED._value.get()
    idle = [await _connect(bot) for _ in range(3)]
    try:
        reader, writer = await _connect(bot)
        assert (await _closed_by_server(reader, within=30)).startswith(b"HTTP/1.1 503")
        writer.close()
        assert metrics.HTTP_REFUSED._value.get() == before + 1
    finally:
        for _reader, writer in idle:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    # The server notices the closed connections and takes new ones again.
    await eventually(lambda: not bot.runner.server.connections)
    assert await _answered(bot, signer, slack) == 200


async def test_keep_alive_connections_are_closed_when_idle(make_bot, slack, signer):
    bot = await make_bot(SERVICES, CHATOPS_HTTP_HEADER_TIMEOUT_SECONDS=0.5)
    reader, writer = await _connect(bot)
    req = signer.slash_command("/health", "nosuchservice", user_id="U1", response_url=slack.response_url())
    keep_alive = raw_http.request_bytes(bot.slack_url, req.body, req.headers).replace(
        b"Connection: close", b"Connection: keep-alive")
    writer.write(keep_alive)
    await writer.drain()
    try:
        answer = await _closed_by_server(reader, within=DRIBBLE_SECONDS - 1)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")  # answered, then closed once idle
