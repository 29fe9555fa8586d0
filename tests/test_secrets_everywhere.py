"""No planted credential — in a commit message, a log line or a variable — reaches a Slack message, a
log line or the database, through every command that shows Railway data (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
import logging

import httpx
from sqlalchemy import text

from bot.common.log import setup_logging
from bot.slack.action_ids import ActionId
from bot.store import actions
from bot.store.models import Base
from tests.conftest import eventually

CHANNEL = "C0OPS"
PLANTED_DEPLOYMENT = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
# Each a credential in one of the forms redact() knows; none may appear anywhere afterwards.
SECRETS = {
    "db_password": "Pw7plantedDbPass",
    "stripe": "sk_live_51PlantedStripeKey0000",
    "github": "ghp_PlantedGithubToken000000000000000000",
    "cookie": "sid=PlantedCookieValue42",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJwbGFudGVkIjoiand0In0.PlantedJwtSignature_0123456789",
    "aws": "AKIAPLANTEDAWSKEY123",
    "webhook": "T0PLANT/B0PLANT/PlantedWebhookSecret123",
    "passphrase": "planted-horse-battery-staple",
}


def _plant(railway) -> None:
    world = railway.world
    world.add_deployment(
        "backend", id=PLANTED_DEPLOYMENT, status="SUCCESS", created_at="now-1m",
        meta={"commitHash": "c0ffee1", "branch": "main",
              "commitMessage": f"chore: set DATABASE_URL=postgres://app:{SECRETS['db_password']}@db/app "
                               f"and STRIPE {SECRETS['stripe']}"},
        logs=[
            {"timestamp": "+1s", "message": f"boot: git remote https://{SECRETS['github']}@github.com/acme/app"},
            {"timestamp": "+2s", "message": f"GET /api/me Cookie: {SECRETS['cookie']}", "severity": "error"},
            {"timestamp": "+3s", "message": f"auth failed for token {SECRETS['jwt']}", "severity": "error"},
            {"timestamp": "+4s", "message": f"aws client {SECRETS['aws']} denied", "severity": "error"},
            {"timestamp": "+5s", "message": "KeyError: 'REDIS_URL'", "severity": "error"},
        ])
    world.set_variables("backend", {
        "SLACK_ALERT_WEBHOOK": f"https://hooks.slack.com/services/{SECRETS['webhook']}",
        "GPG_PASSPHRASE": SECRETS["passphrase"],
        "NOTES": f"deploy key {SECRETS['stripe']}",
    })


async def _post(bot, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def _command(bot, slack, signer, command: str, text_: str, user: str = "U0ANA") -> None:
    before = len(slack.responses)
    resp = await _post(bot, signer.slash_command(command, text_, user_id=user, channel_id=CHANNEL,
                                                 response_url=slack.response_url(channel=CHANNEL)))
    assert resp.status_code == 200, resp.text
    await eventually(lambda: len(slack.responses) > before or None, timeout=30)


async def _database_text(bot) -> str:
    dump = []
    async with bot.rt.store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(text(f"SELECT * FROM {table.name}"))).all()
            dump.extend(repr(tuple(row)) for row in rows)
    return "\n".join(dump)


async def test_planted_credentials_reach_no_slack_message_log_line_or_row(db_url, make_bot, slack, signer,
                                                                          rollback_env):
    _plant(rollback_env.railway)
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    try:
        bot = await make_bot(rollback_env.config(), database_url=db_url, **rollback_env.settings())
        await _command(bot, slack, signer, "/rollback", "backend list")
        await _command(bot, slack, signer, "/logs", "backend --since 1h")
        await _command(bot, slack, signer, "/diagnose", "all backend")
        before = len(slack.calls_to("chat.postMessage"))
        await _post(bot, signer.slash_command("/rollback", "backend --reason planted", user_id="U0ANA",
                                              channel_id=CHANNEL, response_url=slack.response_url(channel=CHANNEL)))
        call = await slack.wait_for(lambda: slack.calls_to("chat.postMessage")[before:] or None)
        message = slack.message(CHANNEL, call[0].response["ts"])
        request_id = next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
        click = signer.block_actions(ActionId.ROLLBACK_APPROVE.value, request_id, user_id="U0LEO",
                                     channel_id=CHANNEL, message_ts=message["ts"], message=message,
                                     response_url=slack.response_url("actions", channel=CHANNEL,
                                                                     message_ts=message["ts"]))
        await _post(bot, click)
        await eventually(lambda: _final(bot, request_id), timeout=30)
        await bot.rt.audit.flush()
        stored = await _database_text(bot)
    finally:
        logging.getLogger().handlers.clear()
    posted = json.dumps([c.params for c in slack.calls] + [r.payload for r in slack.responses], ensure_ascii=False)
    logged = stream.getvalue()
    # The commit message was shown (masked), so the test looked where the secret would have been.
    assert "chore: set DATABASE_URL=" in posted and "chore: set DATABASE_URL=" in stored
    assert "KeyError: 'REDIS_URL'" in posted  # an exception name is not a secret: it stays readable
    for name, secret in SECRETS.items():
        assert secret not in posted, f"{name} reached Slack"
        assert secret not in logged, f"{name} reached the log"
        assert secret not in stored, f"{name} reached the database"


async def _final(bot, request_id):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None
