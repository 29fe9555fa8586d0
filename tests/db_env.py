"""A Railway world with a backend and its PostgreSQL service (with a volume), for the /db tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from bot.slack.action_ids import ActionId
from sandbox.emulators.railway import RailwayEmulator
from tests.conftest import eventually

TOKEN = "db-api-token-123456"
CHANNEL = "C0OPS"
PG_SERVICE = "svc-postgres"
VOLUME = "vol-pg-1"
APPROVERS = ["U0LEO", "U0MAY", "U0SAM", "U0KIM"]


def world(*, schedules: bool = True, backups: bool = True, database_url: str = "") -> dict:
    volume = {"id": VOLUME, "mountPath": "/var/lib/postgresql/data", "sizeMB": 5000, "currentSizeMB": 812}
    if backups:
        volume["backups"] = [
            {"id": "bk-manual", "name": "Manual", "createdAt": "now-3d", "usedMB": 700},
            {"id": "bk-daily", "name": "Daily", "createdAt": "now-30h30m", "expiresAt": "now+3d23h30m", "usedMB": 790,
             "scheduleId": "sched-daily"},
        ]
    if schedules:
        volume["schedules"] = [{"id": "sched-daily", "kind": "DAILY"}]
    return {
        "tokens": {"api": [TOKEN]},
        "projects": [{"id": "p1", "name": "shop", "environments": [{"id": "e1", "name": "production"}],
                      "services": [{"id": "svc-backend", "name": "backend",
                                    "variables": {"DATABASE_URL": database_url}},
                                   {"id": PG_SERVICE, "name": "Postgres", "volume": volume}]}],
        "deployments": [{"id": "d-1", "service": "backend", "status": "SUCCESS", "createdAt": "now-1h"},
                        {"id": "d-pg", "service": "Postgres", "status": "SUCCESS", "createdAt": "now-5d"}],
    }


def services(extra: str = "") -> str:
    return f"""
[[services]]
name = "backend"
url = "https://backend.example.com"
database_service_id = "{PG_SERVICE}"
railway = {{ project = "shop", environment = "production", service = "backend" }}
{extra}

[[services]]
name = "web"
url = "https://web.example.com"
railway = {{ project = "shop", environment = "production", service = "backend" }}

[approvals]
approvers = {APPROVERS!r}
""".replace("'", '"')


@contextlib.asynccontextmanager
async def railway_emulator() -> AsyncIterator[RailwayEmulator]:
    """The Railway emulator on ``world()``, its stages quick."""
    emu = RailwayEmulator(world(), stage_seconds=0.05)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def settings(railway) -> dict:
    return {"RAILWAY_API_URL": railway.graphql_url, "RAILWAY_API_TOKEN": TOKEN, "CHATOPS_FOLLOW_POLL_SECONDS": 0.05,
            "CHATOPS_FOLLOW_TIMEOUT_SECONDS": 20}


async def post(url: str, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, content=req.body, headers=req.headers)


async def command(bot, slack, signer, text: str, user: str = "U0ANA") -> httpx.Response:
    return await post(bot.slack_url, signer.slash_command("/db", text, user_id=user, channel_id=CHANNEL,
                                                          response_url=slack.response_url(channel=CHANNEL)))


async def request_message(bot, slack, signer, text: str, user: str = "U0ANA") -> dict:
    """Send a /db change and return the posted request message."""
    before = len(slack.calls_to("chat.postMessage"))
    resp = await command(bot, slack, signer, text, user)
    assert resp.status_code == 200, resp.text
    call = await slack.wait_for(lambda: slack.calls_to("chat.postMessage")[before:] or None, timeout=30)
    return slack.message(CHANNEL, call[0].response["ts"])


def button(message: dict, action: ActionId) -> dict:
    return next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action.value)


def click(signer, slack, message: dict, action: ActionId, user: str, trigger_id: str | None = None):
    return signer.block_actions(action.value, button(message, action)["value"], user_id=user, channel_id=CHANNEL,
                                message_ts=message["ts"], message=message, trigger_id=trigger_id,
                                response_url=slack.response_url("actions", channel=CHANNEL,
                                                                message_ts=message["ts"]))


async def responses_after(slack, before: int, timeout: float = 30.0) -> list:
    return await eventually(lambda: slack.responses[before:] or None, timeout=timeout)
