"""Rollback figures: Approve click → rollback mutation at Railway, and concurrent clicks → mutations.

Two `chatops serve` processes share one PostgreSQL database, as two replicas behind a load
balancer would; the Slack, Railway and target emulators run in this process. Figures go to
bench/RESULTS.md.

    python bench/rollback.py [--requests 20] [--clicks 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
from results import write_section

from sandbox.emulators.railway import RailwayEmulator
from sandbox.emulators.signer import SlackRequestSigner
from sandbox.emulators.slack import SlackEmulator
from sandbox.emulators.target import TargetEmulator
from sandbox.runner import migrate_with_cli, start_server_process

SECRET = "bench-signing-secret-0123456789"
TOKEN = "xoxb-bench-token"
ADMIN_PG = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
APPROVERS = [f"U0APP{i:02d}" for i in range(10)]
CHANNEL = "C0OPS"


async def post(http: aiohttp.ClientSession, url: str, req) -> int:
    async with http.post(url + "/slack/events", data=req.body, headers=req.headers) as resp:
        await resp.read()
        return resp.status


async def request_rollback(http, url, slack: SlackEmulator, signer, user="U0REQ") -> dict:
    before = len(slack.calls_to("chat.postMessage"))
    await post(http, url, signer.slash_command("/rollback", "backend", user_id=user, channel_id=CHANNEL,
                                               response_url=slack.response_url(channel=CHANNEL)))
    call = await slack.wait_for(lambda: slack.calls_to("chat.postMessage")[before:] or None, timeout=20)
    return slack.message(CHANNEL, call[0].response["ts"])


def approve_click(signer, slack, message, user):
    value = next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "rollback.approve")
    return signer.block_actions("rollback.approve", value, user_id=user, channel_id=CHANNEL,
                                message_ts=message["ts"], message=message,
                                response_url=slack.response_url("actions", channel=CHANNEL, message_ts=message["ts"]))


async def wait_finished(slack: SlackEmulator, message: dict) -> None:
    def done():
        text = json.dumps(slack.message(CHANNEL, message["ts"])["blocks"], ensure_ascii=False)
        return "Rolled back" in text or "❌" in text or None
    await slack.wait_for(done, timeout=60)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--clicks", type=int, default=50)
    args = parser.parse_args()

    slack = SlackEmulator(bot_token=TOKEN, channels={"C0GENERAL": "general", CHANNEL: "ops"}, rate_limits=False)
    railway = RailwayEmulator(stage_seconds=0.05)
    target = TargetEmulator()
    await slack.start()
    await railway.start()
    target_url = await target.start()
    db = f"chatops_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_PG)
    await admin.execute(f'CREATE DATABASE "{db}"')
    await admin.close()
    workdir = Path(tempfile.mkdtemp(prefix="chatops-bench-"))
    config = workdir / "chatops.toml"
    config.write_text(f'''[[services]]
name = "backend"
url = "{target_url}"
profile = "ivan-reseller-web"
railway = {{ project = "ivan-reseller", environment = "production", service = "backend" }}

[approvals]
approvers = {json.dumps(APPROVERS)}
''')
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url,
           "DATABASE_URL": ADMIN_PG.rsplit("/", 1)[0] + f"/{db}", "CHATOPS_CONFIG": str(config),
           "RAILWAY_API_URL": railway.graphql_url, "RAILWAY_API_TOKEN": "demo-api-token",
           "CHATOPS_FOLLOW_POLL_SECONDS": "0.05", "LOG_LEVEL": "WARNING"}
    await migrate_with_cli(env, workdir)
    servers = [await start_server_process(env, workdir), await start_server_process(env, workdir)]
    signer = SlackRequestSigner(SECRET)
    to_mutation: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(args.requests):
                url = servers[i % 2].url
                message = await request_rollback(http, url, slack, signer)
                seen = len(railway.mutations("deploymentRollback"))
                clicked = time.time()
                await post(http, url, approve_click(signer, slack, message, APPROVERS[0]))
                await slack.wait_for(lambda s=seen: len(railway.mutations("deploymentRollback")) > s or None)
                to_mutation.append((railway.mutations("deploymentRollback")[-1].time - clicked) * 1000)
                await wait_finished(slack, message)

            message = await request_rollback(http, servers[0].url, slack, signer)
            seen = len(railway.mutations("deploymentRollback"))
            clicks = [(servers[i % 2].url, approve_click(signer, slack, message, APPROVERS[i % len(APPROVERS)]))
                      for i in range(args.clicks)]
            statuses = await asyncio.gather(*(post(http, url, req) for url, req in clicks))
            await wait_finished(slack, message)
            await asyncio.sleep(1.0)
            mutations = len(railway.mutations("deploymentRollback")) - seen
    finally:
        for server in servers:
            await server.stop()
        await target.stop()
        await railway.stop()
        await slack.stop()
        admin = await asyncpg.connect(ADMIN_PG)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()

    to_mutation.sort()
    body = "\n".join([
        "Two `chatops serve` processes on one PostgreSQL database; Slack, Railway (demo world) and target "
        "emulators on loopback. Each click is a signed `block_actions` request.",
        "",
        "| measurement | result |",
        "|---|---|",
        f"| Approve click → `deploymentRollback` at Railway ({len(to_mutation)} rollbacks, alternating replicas) "
        f"| median {statistics.median(to_mutation):.1f} ms, max {to_mutation[-1]:.1f} ms |",
        f"| {args.clicks} concurrent Approve clicks from {len(APPROVERS)} approvers, split across both replicas "
        f"| {sum(s == 200 for s in statuses)}/{args.clicks} acknowledged, "
        f"**{mutations} mutation(s)** seen by Railway |",
    ])
    write_section("Rollback", body)
    print(body)


if __name__ == "__main__":
    asyncio.run(main())
