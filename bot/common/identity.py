"""How the bot's own requests are recognised: one User-Agent and one correlation-id prefix.

Every request the bot sends carries ``User-Agent: chatops/<version>`` and an ``X-Correlation-ID``
of the form ``chatops-<kind>-<12 hex digits>``. The real backend echoes both in its log lines
(``"correlationId":"chatops-…"``, ``"userAgent":"chatops/…"``, real-backend-observed.md), so a log
scan drops the lines the bot's own probes caused instead of counting them against the service.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from bot import __version__ as VERSION  # the one version (pyproject reads it too), installed or not

USER_AGENT = f"chatops/{VERSION}"
CORRELATION_HEADER = "X-Correlation-ID"
CORRELATION_PREFIX = "chatops-"

# A correlation id the bot made (this version's, and the older "chatops-cli-…" ones), its User-Agent,
# or an older version's User-Agent ("chatops-cli", "chatops-bot") as the backend logs it.
_OWN = re.compile(r"(?<![\w-])chatops-(?:[a-z]+-)*[0-9a-f]{12}(?![\w-])|(?<![\w/-])chatops/\d[\w.+-]*"
                  r"|\"userAgent\"\s*:\s*\"chatops-(?:cli|bot)\"", re.IGNORECASE)


def correlation_id(kind: str = "bot") -> str:
    """A new id for one request (or one report's requests): ``chatops-<kind>-<12 hex>``."""
    return f"{CORRELATION_PREFIX}{kind}-{uuid.uuid4().hex[:12]}"


def is_own_traffic(text: str) -> bool:
    """True when a log line carries the bot's correlation id or User-Agent."""
    return "chatops" in text and _OWN.search(text) is not None


async def tag_request(request: Any) -> None:
    """httpx request hook: the bot's User-Agent always, a correlation id unless the caller set one."""
    request.headers["User-Agent"] = USER_AGENT
    if CORRELATION_HEADER not in request.headers:
        request.headers[CORRELATION_HEADER] = correlation_id()
