"""The chart worker process: reads chart specs on stdin, writes PNGs on stdout, one at a time.

Run by ``bot.charts.renderer.ChartRenderer`` (``python -m bot.charts.worker``). Drawing happens here,
not in the bot: matplotlib's memory stays out of the bot's process, the address space is capped
(``RLIMIT_AS``), and a render that runs too long is ended by killing this process.

Frames: a 4-byte big-endian length, then the payload. Request: a JSON chart spec. Answer: one status
byte (``0`` PNG follows, ``1`` error text follows) and the payload.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys

MAX_REQUEST = 1 << 20  # a spec is a few hundred points: 1 MiB is far more than any honest one


def _cap_memory() -> None:
    limit = int(os.environ.get("CHATOPS_CHART_MEMORY_MB", "0")) * 1024 * 1024
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _read_exact(stream, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def main() -> int:
    _cap_memory()
    from bot.charts.draw import draw  # after the cap: matplotlib's import counts against it

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(b"R")  # ready: imports done
    stdout.flush()
    while True:
        head = _read_exact(stdin, 4)
        if head is None:
            return 0
        (length,) = struct.unpack(">I", head)
        if length > MAX_REQUEST:
            return 2
        body = _read_exact(stdin, length)
        if body is None:
            return 0
        try:
            status, payload = 0, draw(json.loads(body))
        except MemoryError:
            status, payload = 1, b"memory"
        except Exception as exc:  # a bad spec: the bot logs it and posts the finding without a chart
            status, payload = 1, f"{type(exc).__name__}: {exc}"[:500].encode()
        stdout.write(struct.pack(">IB", len(payload), status) + payload)
        stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
