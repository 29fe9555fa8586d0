"""The alert fixtures (``tests/fixtures/alerts``): each file's ``#`` header says which documented
sample it follows; the body after it is what the tool sends."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "alerts"
FIXTURE_HOST = "https://backend.example.com"
CONTENT_TYPES = {".json": "application/json", ".form": "application/x-www-form-urlencoded"}


def payload(name: str, *, base_url: str | None = None) -> tuple[bytes, str]:
    """(body, content type) of a fixture; ``base_url`` replaces the monitored URL's scheme and host."""
    path = FIXTURES / name
    body = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    if base_url:
        body = body.replace(FIXTURE_HOST, base_url).replace(quote(FIXTURE_HOST, safe=""), quote(base_url, safe=""))
    return body.encode(), CONTENT_TYPES[path.suffix]
