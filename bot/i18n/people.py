"""Each person's language, from their Slack locale, for what only they see (ephemeral messages).

``users.info`` is I/O, so it never runs before an ack: the ack uses what is cached, and a
lookup is started in the background so that person's later messages are in their language.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import LANGUAGES

logger = logging.getLogger(__name__)

CACHE_SECONDS = 6 * 3600.0


class UserLanguages:
    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._pending: dict[str, asyncio.Task] = {}

    def cached(self, user_id: str | None) -> str | None:
        entry = self._cache.get(user_id or "")
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def warm(self, user_id: str | None) -> None:
        """Start a lookup if none is cached or running (no I/O in the caller)."""
        if not user_id or self.cached(user_id) is not None or user_id in self._pending:
            return
        task = asyncio.get_running_loop().create_task(self._lookup(user_id))
        self._pending[user_id] = task
        task.add_done_callback(lambda _t: self._pending.pop(user_id, None))

    async def language(self, user_id: str | None, fallback: str) -> str:
        if not user_id:
            return fallback
        cached = self.cached(user_id)
        if cached is None:
            cached = await (self._pending.get(user_id) or self._lookup(user_id))
        return cached or fallback

    async def _lookup(self, user_id: str) -> str | None:
        try:
            answer = await self._slack.users_info(user=user_id, include_locale=True)
            locale = (answer.get("user") or {}).get("locale") or ""
        except Exception as exc:
            logger.info("users.info failed for a locale lookup: %s", exc)
            return None
        lang = locale.replace("_", "-").split("-")[0].lower() or None
        lang = lang if lang in LANGUAGES else None
        self._cache[user_id] = (time.monotonic() + CACHE_SECONDS, lang)
        return lang
