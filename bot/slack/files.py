"""Sharing a file in a channel the way Slack takes files today (``files.upload`` is retired):
``files.getUploadURLExternal`` → POST the bytes to the URL it returns → ``files.completeUploadExternal``
with ``channel_id`` (and ``thread_ts``). Failures are logged, counted and audited (``post.record``),
never raised: a chart is an addition to a message that stands alone, so there is no other fallback."""

from __future__ import annotations

import logging

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.charts.renderer import ChartFailed, ChartRenderer
from bot.charts.spec import ChartSpec
from bot.common import metrics
from bot.common.redact import redact
from bot.slack.post import Audit, Posted, record

logger = logging.getLogger(__name__)

UPLOAD_SECONDS = 20.0


async def share_file(slack: AsyncWebClient, http: httpx.AsyncClient, *, channel: str, content: bytes,
                     filename: str, title: str, alt_text: str, thread_ts: str | None = None,
                     comment: str | None = None, audit: Audit | None = None) -> str | None:
    """Upload ``content`` and share it in ``channel`` (in ``thread_ts``'s thread); the file id, or None."""
    step = "files.getUploadURLExternal"
    try:
        answer = await slack.files_getUploadURLExternal(filename=filename, length=len(content), alt_txt=alt_text)
        metrics.SLACK_CALLS.labels(step, "ok").inc()
        file_id, url = answer["file_id"], answer["upload_url"]
        step = "upload"
        response = await http.post(url, content=content, timeout=UPLOAD_SECONDS,
                                   headers={"Content-Type": "application/octet-stream"})
        if response.status_code != 200:
            raise httpx.HTTPStatusError(f"upload answered {response.status_code}", request=response.request,
                                        response=response)
        metrics.SLACK_CALLS.labels(step, "ok").inc()
        step = "files.completeUploadExternal"
        await slack.files_completeUploadExternal(files=[{"id": file_id, "title": title}], channel_id=channel,
                                                 thread_ts=thread_ts, initial_comment=comment)
        metrics.SLACK_CALLS.labels(step, "ok").inc()
        return file_id
    except SlackApiError as exc:
        error = exc.response.get("error") or f"http_{exc.response.status_code}"
        metrics.SLACK_CALLS.labels(step, error).inc()
        logger.error("file upload failed at %s: %s", step, error, extra={"channel": channel})
    except Exception as exc:
        error = "timeout" if isinstance(exc, TimeoutError | httpx.TimeoutException) else "unreachable"
        metrics.SLACK_CALLS.labels(step, error).inc()
        logger.error("file upload failed at %s: %s", step, redact(str(exc))[:300], extra={"channel": channel})
    if audit is not None:
        record(audit, what="chart", channel=channel, subject=filename[:64], outcome=Posted(channel, None, error),
               method=step)
    return None


class ChartPoster:
    """Draws a chart (off the event loop, bounded) and shares it; None when charts are off or it failed.

    The message a chart illustrates is always posted first and stands alone: a missing chart costs
    the picture, never the finding."""

    def __init__(self, slack: AsyncWebClient, http: httpx.AsyncClient, renderer: ChartRenderer | None,
                 audit: Audit | None = None) -> None:
        self.slack = slack
        self.http = http
        self.renderer = renderer  # None: CHATOPS_CHARTS=false
        self.audit = audit

    async def share(self, spec: ChartSpec | None, channel: str | None, thread_ts: str | None = None) -> str | None:
        if self.renderer is None or spec is None or not channel or not spec.has_data():
            return None
        try:
            png = await self.renderer.render(spec)
        except ChartFailed as exc:
            logger.warning("no chart: %s", exc, extra={"chart": spec.filename})
            return None
        return await share_file(self.slack, self.http, channel=channel, content=png, filename=spec.filename,
                                title=spec.title, alt_text=spec.alt, thread_ts=thread_ts, comment=spec.comment or None,
                                audit=self.audit)
