"""An HTTP/1.1 request written byte for byte, for inputs that well-behaved clients refuse to send
(non-ASCII or space-padded header values, bodies dribbled slowly)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


def request_bytes(url: str, body: bytes, headers: dict[str, str] | list[tuple[str, str]]) -> bytes:
    parts = urlsplit(url)
    items = headers.items() if isinstance(headers, dict) else headers
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}",
             "Connection: close", *(f"{k}: {v}" for k, v in items)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


async def post(url: str, body: bytes, headers: dict[str, str] | list[tuple[str, str]],
               timeout: float = 30.0) -> tuple[int, bytes]:
    """Send one request as raw bytes; (status, body) of the answer."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request_bytes(url, body, headers))
        await writer.drain()
        async with asyncio.timeout(timeout):
            answer = await reader.read()
    finally:
        writer.close()
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest
