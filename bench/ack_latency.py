"""Ack latency under a burst: 500 signed `/health backend` at concurrency 50 against `chatops serve`.

The server runs as its own process (exactly what `chatops serve` runs), once on SQLite and once
on PostgreSQL, with the Slack and target emulators on loopback; every command's follow-up really
probes the target's endpoints. Figures go to bench/RESULTS.md.

    python bench/ack_latency.py [--requests 500] [--concurrency 50] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
from results import write_section

from sandbox.emulators.signer import SlackRequestSigner
from sandbox.emulators.slack import SlackEmulator
from sandbox.emulators.target import TargetEmulator
from sandbox.runner import migrate_with_cli, start_server_process

SECRET = "bench-signing-secret-0123456789"
TOKEN = "xoxb-bench-token"
ADMIN_PG = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_case(name: str, database_url: str, slack: SlackEmulator, target_url: str, requests: int,
                   concurrency: int, text: str = "backend") -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="chatops-bench-"))
    config = workdir / "chatops.toml"
    config.write_text(f'[[services]]\nname = "backend"\nurl = "{target_url}"\nprofile = "ivan-reseller-web"\n')
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url,
           "DATABASE_URL": database_url, "CHATOPS_CONFIG": str(config), "LOG_LEVEL": "WARNING"}
    await migrate_with_cli(env, workdir)
    server = await start_server_process(env, workdir)
    url = server.url
    try:
        signer = SlackRequestSigner(SECRET)
        before = len(slack.responses)
        latencies: list[float] = []
        errors = 0
        gate = asyncio.Semaphore(concurrency)
        # aiohttp as the load generator: it costs far less CPU per request than httpx, and the
        # generator shares this machine's two cores with the server being measured.
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as http:
            async def one(i: int) -> None:
                nonlocal errors
                req = signer.slash_command("/health", text, user_id=f"U{i % 40:04d}", channel_id="C0GENERAL",
                                           response_url=slack.response_url())
                async with gate:
                    started = time.perf_counter()
                    try:
                        async with http.post(url + "/slack/events", data=req.body, headers=req.headers) as resp:
                            await resp.read()
                            ok = resp.status == 200
                    except (aiohttp.ClientError, TimeoutError):
                        ok = False
                    latencies.append((time.perf_counter() - started) * 1000)
                    errors += not ok

            burst_started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(requests)))
            burst_s = time.perf_counter() - burst_started
            try:
                await slack.wait_for(lambda: len(slack.responses) - before >= requests or None, timeout=60)
            except TimeoutError:
                pass  # reported below as fewer follow-ups than requests
            followups = len(slack.responses) - before
            followup_s = time.perf_counter() - burst_started
        latencies.sort()
        return {"name": name, "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1],
                "max": latencies[-1], "errors": errors, "requests": requests, "burst_s": burst_s,
                "followups": followups, "followup_s": followup_s, "rss_mb": peak_rss_mb(server.proc.pid)}
    finally:
        await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    slack = SlackEmulator(bot_token=TOKEN, rate_limits=False)  # measures the bot, not Slack's tiers
    await slack.start()
    target = TargetEmulator()
    target_url = await target.start()
    results = []
    try:
        sqlite_dir = Path(tempfile.mkdtemp(prefix="chatops-bench-db-"))
        results.append(await run_case("SQLite", f"sqlite:///{sqlite_dir / 'chatops.db'}", slack, target_url,
                                      args.requests, args.concurrency))
        if not args.skip_postgres:
            db = f"chatops_bench_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(ADMIN_PG)
            await admin.execute(f'CREATE DATABASE "{db}"')
            await admin.close()
            try:
                results.append(await run_case("PostgreSQL", ADMIN_PG.rsplit("/", 1)[0] + f"/{db}", slack,
                                              target_url, args.requests, args.concurrency))
            finally:
                admin = await asyncpg.connect(ADMIN_PG)
                await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                await admin.close()
    finally:
        await target.stop()
        await slack.stop()

    lines = [
        f"{args.requests} signed `/health backend` slash commands, {args.concurrency} at a time, against "
        "`chatops serve` in its own process; each follow-up probes the target emulator's endpoints "
        "(ivan-reseller-web profile) and posts the report to the response_url. Ack = client-side time "
        "from sending the request to the HTTP 200.",
        "",
        "| database | ack p50 | ack p99 | ack max | errors | follow-ups done | all follow-ups done after | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['name']} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms | {r['errors']} "
                     f"| {r['followups']}/{r['requests']} | {r['followup_s']:.2f} s | {r['rss_mb']:.0f} MB |")
    lines += ["", "Target: every request acknowledged; ack p99 under 100 ms on this 2-core machine."]
    write_section("Ack latency", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
