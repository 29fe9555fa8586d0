"""The floor for ack latency: a minimal server that checks Slack's signature and acks, nothing else.

Run by ``bench/monitor_scale.py`` in a process of its own, so both are measured the same way on the same
machine in the same run. ``python bench/minimal_ack.py PORT SECRET``
"""

from __future__ import annotations

import sys

from aiohttp import web

from bot.slack.signing import is_valid


def app(secret: str) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        raw = await request.read()
        if not is_valid(secret, raw, request.headers.get("X-Slack-Request-Timestamp", ""),
                        request.headers.get("X-Slack-Signature", "")):
            return web.Response(status=401)
        return web.json_response({"response_type": "ephemeral", "text": "ok"})

    application = web.Application()
    application.router.add_post("/slack/events", events)
    return application


if __name__ == "__main__":
    web.run_app(app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
