"""One bounded HTTP request: a deadline for the whole exchange, a cap on decoded body bytes, and
redirects followed only a few times and only on the same origin (a probe never wanders to another
host, which would be a way around the SSRF rule).

Bodies are decoded here, not by httpx: httpx inflates a whole network chunk at once, so one 64 KB
chunk of a gzip bomb could become tens of megabytes before a cap is checked. ``zlib``'s
``max_length`` keeps memory at the cap.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass

import httpx

from bot.probe.classify import classify_exception

ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed_ms: float


class FetchFailure(Exception):
    """No usable answer: ``failure`` is a code from ``bot.probe.classify``."""

    def __init__(self, failure: str, detail: str, *, status: int | None = None, elapsed_ms: float,
                 url: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail
        self.status = status
        self.elapsed_ms = elapsed_ms
        self.url = url


class _Decoder:
    def __init__(self, encoding: str) -> None:
        enc = encoding.strip().lower()
        self._raw_deflate_retry = enc == "deflate"
        if enc in ("", "identity"):
            self._zlib = None
        elif enc in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise ValueError(encoding)

    def feed(self, raw: bytes, room: int) -> bytes:
        """Up to ``room`` decoded bytes of ``raw`` (more pending input means the cap was passed)."""
        if self._zlib is None:
            return raw[:room]
        try:
            out = self._zlib.decompress(raw, room)
        except zlib.error:
            if not self._raw_deflate_retry:
                raise
            # Some servers send raw deflate without the zlib wrapper.
            self._raw_deflate_retry = False
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(raw, room)
        self._raw_deflate_retry = False
        if self._zlib.unconsumed_tail and len(out) >= room:
            return out + b"\0"  # signal: there is more than room
        return out


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    if a.host != b.host:
        return False
    if (a.scheme, a.port) == (b.scheme, b.port):
        return True
    # http → https upgrade on the default ports.
    return a.scheme == "http" and a.port in (None, 80) and b.scheme == "https" and b.port in (None, 443)


async def fetch(client: httpx.AsyncClient, url: str, *, method: str = "GET", headers: dict[str, str],
                deadline: float, body_cap: int, max_redirects: int = 5) -> Fetched:
    """Send one request (following same-origin redirects) and read its body, all before ``deadline``
    (``loop.time()`` based). Raises FetchFailure for anything that is not an HTTP answer."""
    start = time.perf_counter()
    current = httpx.URL(url)
    visited = [str(current)]

    def failure(code: str, detail: str, status: int | None = None) -> FetchFailure:
        return FetchFailure(code, detail, status=status, elapsed_ms=_ms(start), url=str(current))

    try:
        async with asyncio.timeout_at(deadline):
            while True:
                request = client.build_request(method, current, headers=headers,
                                               timeout=httpx.Timeout(max(deadline - _now(), 0.001)))
                # The bot sends no Origin unless it is testing CORS (the client may hold defaults).
                if "origin" not in {k.lower() for k in headers}:
                    request.headers.pop("Origin", None)
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    location = response.headers.get("location") if response.is_redirect else None
                    if location is None:
                        body = await _read_capped(response, body_cap, failure)
                        return Fetched(str(current), response.status_code, response.headers, body, _ms(start))
                    target = current.join(location)
                    if str(target) in visited:
                        raise failure("redirect_loop", f"redirect loop back to {target.path}",
                                      response.status_code)
                    if len(visited) > max_redirects:
                        raise failure("redirect_loop", f"more than {max_redirects} redirects",
                                      response.status_code)
                    if not _same_origin(current, target):
                        raise failure("redirect_offsite", f"redirects to another host ({target.host})",
                                      response.status_code)
                    visited.append(str(target))
                    current = target
                finally:
                    await response.aclose()
    except FetchFailure:
        raise
    except (httpx.HTTPError, OSError) as exc:  # TimeoutError (the deadline) is an OSError
        code, detail = classify_exception(exc)
        raise failure(code, detail) from None


async def _read_capped(response: httpx.Response, cap: int, failure) -> bytes:
    if response.request.method == "HEAD":
        return b""
    encoding = response.headers.get("content-encoding", "")
    try:
        decoder = _Decoder(encoding)
    except ValueError:
        raise failure("not_json", f"unsupported Content-Encoding {encoding[:40]!r}", response.status_code) from None
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            body += decoder.feed(raw, cap + 1 - len(body))
            if len(body) > cap:
                raise failure("too_large", f"body larger than {cap} bytes (stopped reading)",
                              response.status_code)
    except zlib.error:
        raise failure("not_json", "body is not valid compressed data", response.status_code) from None
    return bytes(body)


def _now() -> float:
    return asyncio.get_running_loop().time()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
