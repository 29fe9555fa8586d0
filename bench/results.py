"""Writing one benchmark's figures into bench/RESULTS.md, with the date and the machine."""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = "# Benchmark results\n\nFigures from `make bench` (or each `bench/*.py`), newest run per section.\n"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.node()} · {platform.system()} {platform.release()} · {cpu} · {os.cpu_count()} cores"
            f" · Python {platform.python_version()}")


def write_section(title: str, body: str) -> None:
    """Replace the ``## title`` section (or append it), stamped with date and machine."""
    stamp = f"_Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {machine()}._\n\n"
    section = f"## {title}\n\n{stamp}{body.strip()}\n"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
