"""Bolt's ``respond()`` made to fail loudly: a response_url that refuses an answer raises, so the
follow-up is audited as an error and the person gets the failure note, instead of the answer being
lost while the audit log says "ok"."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.common import metrics
from bot.common.errors import ChatopsError
from bot.i18n import t


class AnswerRefused(ChatopsError):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(t("common.answer_refused", "en", status=status))

    def message(self, lang: str | None) -> str:
        return t("common.answer_refused", lang, status=self.status)


class CheckedRespond:
    """Calls Bolt's AsyncRespond; raises AnswerRefused unless Slack accepted the answer (HTTP 200)."""

    def __init__(self, respond: AsyncRespond) -> None:
        self._respond = respond

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        response = await self._respond(*args, **kwargs)
        if response.status_code != 200:
            metrics.SLACK_CALLS.labels("response_url", str(response.status_code)).inc()
            raise AnswerRefused(response.status_code)
        metrics.SLACK_CALLS.labels("response_url", "ok").inc()
        return response
