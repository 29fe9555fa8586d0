"""The monitor at scale: `chatops serve` in its own process watching N services against the target
emulator, while signed slash commands measure the acks.

For each N and interval: the bot's CPU (% of one core) and RSS, the requests per second the targets
receive, the rounds on time (from the bot's /metrics), and the ack p50/p99/max of signed `/health`
commands beside the same figures for a minimal signed-ack server (bench/minimal_ack.py) measured in the
same run. Then two replicas on PostgreSQL: the share of the services each one watches, and how long
after `kill -9` of one the other watches all of them. Figures go to bench/RESULTS.md.

    python bench/monitor_scale.py [--cases 1:10,100:10,300:10,1000:60,1000:10] [--window 60]
                                  [--soak 600] [--skip-replicas]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from results import write_section

from sandbox.emulators.signer import SlackRequestSigner
from sandbox.emulators.slack import SlackEmulator
from sandbox.emulators.target import TargetEmulator
from sandbox.runner import ServerProcess, free_port, migrate_with_cli, start_server_process

SECRET = "bench-signing-secret-0123456789"
TOKEN = "xoxb-bench-token"
ADMIN_PG = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")
COMMANDS_PER_SECOND = 2


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def metric(http: aiohttp.ClientSession, url: str, name: str) -> float:
    async with http.get(url + "/metrics") as resp:
        text = await resp.text()
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def services_toml(target_url: str, n: int, interval: float, extra: str = "") -> str:
    services = "".join(f'[[services]]\nname = "svc-{i:04d}"\nurl = "{target_url}"\nprofile = "ivan-reseller-web"\n\n'
                       for i in range(n))
    return services + f"[monitor]\ninterval_seconds = {interval}\nmetrics_interval_seconds = 3600\n{extra}"


@dataclass
class Acks:
    bot: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    errors: int = 0


async def send_commands(http: aiohttp.ClientSession, signer: SlackRequestSigner, slack: SlackEmulator,
                        bot_url: str, floor_url: str, service: str, seconds: float, acks: Acks) -> None:
    """``COMMANDS_PER_SECOND`` signed `/health` commands to the bot and the same to the floor server."""
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        for url, out in ((bot_url, acks.bot), (floor_url, acks.floor)):
            req = signer.slash_command("/health", service, user_id=f"U{i % 40:04d}", channel_id="C0GENERAL",
                                       response_url=slack.response_url())
            started = time.perf_counter()
            try:
                async with http.post(url + "/slack/events", data=req.body, headers=req.headers) as resp:
                    await resp.read()
                    acks.errors += resp.status != 200
            except (aiohttp.ClientError, TimeoutError):
                acks.errors += 1
            out.append((time.perf_counter() - started) * 1000)
        i += 1
        await asyncio.sleep(1 / COMMANDS_PER_SECOND)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


async def bot_env(slack: SlackEmulator, database_url: str, toml: str) -> tuple[dict[str, str], Path]:
    workdir = Path(tempfile.mkdtemp(prefix="chatops-scale-"))
    (workdir / "chatops.toml").write_text(toml)
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url,
           "DATABASE_URL": database_url, "CHATOPS_CONFIG": str(workdir / "chatops.toml"), "LOG_LEVEL": "ERROR"}
    await migrate_with_cli(env, workdir)
    return env, workdir


async def floor_server() -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, str(Path(__file__).with_name("minimal_ack.py")),
                                                str(port), SECRET, env={**os.environ, "PYTHONPATH": os.getcwd()})
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.post(url + "/slack/events", data=b"") as resp:
                    if resp.status == 401:
                        return proc, url
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the minimal ack server did not start")


async def run_case(n: int, interval: float, window: float, slack: SlackEmulator, target: TargetEmulator,
                   floor_url: str, soak: float = 0.0) -> dict:
    sqlite = Path(tempfile.mkdtemp(prefix="chatops-scale-db-")) / "chatops.db"
    env, workdir = await bot_env(slack, f"sqlite:///{sqlite}", services_toml(target.url, n, interval))
    server = await start_server_process(env, workdir)
    pid = server.proc.pid
    signer = SlackRequestSigner(SECRET)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            idle_rss = rss_mb(pid)
            await asyncio.sleep(interval + 2)  # the first round starts one interval after serving
            rounds0 = await metric(http, server.url, "chatops_monitor_rounds_total")
            late0 = await metric(http, server.url, "chatops_monitor_late_rounds_total")
            skipped0 = await metric(http, server.url, "chatops_monitor_skipped_probes_total")
            cpu0, served0, started = cpu_seconds(pid), target.served, time.monotonic()
            acks = Acks()
            rss_samples: list[float] = []

            async def sample_rss() -> None:
                while True:
                    rss_samples.append(rss_mb(pid))
                    await asyncio.sleep(5)

            sampler = asyncio.create_task(sample_rss())
            measured = max(window, 2 * interval) + soak
            await send_commands(http, signer, slack, server.url, floor_url, "svc-0000", measured, acks)
            elapsed = time.monotonic() - started
            sampler.cancel()
            cpu = (cpu_seconds(pid) - cpu0) / elapsed * 100
            served = (target.served - served0) / elapsed
            rounds = await metric(http, server.url, "chatops_monitor_rounds_total") - rounds0
            late = await metric(http, server.url, "chatops_monitor_late_rounds_total") - late0
            skipped = await metric(http, server.url, "chatops_monitor_skipped_probes_total") - skipped0
        return {"n": n, "interval": interval, "cpu": cpu, "idle_rss": idle_rss, "rss_end": rss_mb(pid),
                "rss_max": max(rss_samples or [float("nan")]), "rss_first": (rss_samples or [float("nan")])[0],
                "req_s": served, "rounds": rounds, "late": late, "skipped": skipped, "seconds": elapsed,
                "ack": acks.bot, "floor": acks.floor, "errors": acks.errors, "soak": soak,
                "rss_samples": rss_samples}
    finally:
        await server.stop()


async def replicas_case(n: int, interval: float, slack: SlackEmulator, target: TargetEmulator) -> dict:
    db = f"chatops_scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_PG)
    await admin.execute(f'CREATE DATABASE "{db}"')
    await admin.close()
    lease = 10.0
    servers: list[ServerProcess] = []
    try:
        env, workdir = await bot_env(slack, ADMIN_PG.rsplit("/", 1)[0] + f"/{db}",
                                     services_toml(target.url, n, interval, f"lease_seconds = {lease}\n"))
        servers = [await start_server_process(env, workdir), await start_server_process(env, workdir)]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async def owned(server: ServerProcess) -> float:
                return await metric(http, server.url, "chatops_monitor_owned_services")

            async def probes(server: ServerProcess) -> float:
                return await metric(http, server.url, "chatops_monitor_probes_total")

            await asyncio.sleep(lease + 2 * interval)  # both registered, both ran rounds with the final split
            before = [await probes(s) for s in servers]
            await asyncio.sleep(3 * interval)
            after = [await probes(s) for s in servers]
            done = [a - b for a, b in zip(after, before, strict=True)]
            shares = [await owned(s) for s in servers]
            victim, survivor = servers
            os.kill(victim.proc.pid, signal.SIGKILL)
            killed = time.monotonic()
            takeover = float("nan")
            while time.monotonic() - killed < 3 * lease:
                if await owned(survivor) == n:
                    takeover = time.monotonic() - killed
                    break
                await asyncio.sleep(0.25)
        return {"n": n, "interval": interval, "lease": lease, "shares": shares, "probes": done,
                "rounds": 3, "takeover": takeover}
    finally:
        for server in servers:
            await server.stop()
        admin = await asyncpg.connect(ADMIN_PG)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1:10,100:10,300:10,1000:60,1000:10",
                        help="services:interval pairs, comma-separated (empty: the replicas only)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured per case (at least 2 rounds)")
    parser.add_argument("--soak", type=float, default=0.0,
                        help="extra seconds for the 1,000-services/60-s case, to see RSS stay flat")
    parser.add_argument("--skip-replicas", action="store_true")
    args = parser.parse_args()
    cases = [(int(a), float(b)) for a, b in (c.split(":") for c in args.cases.split(",") if c)]

    slack = SlackEmulator(bot_token=TOKEN, rate_limits=False)  # measures the bot, not Slack's tiers
    await slack.start()
    target = TargetEmulator()
    await target.start()
    floor_proc, floor_url = await floor_server()
    results, replicas = [], None
    try:
        for n, interval in cases:
            soak = args.soak if (n, interval) == (1000, 60.0) else 0.0
            results.append(await run_case(n, interval, args.window, slack, target, floor_url, soak))
            r = results[-1]
            print(f"{n} services / {interval:g} s: cpu {r['cpu']:.1f}%, rss {r['rss_end']:.0f} MB, "
                  f"{r['req_s']:.0f} req/s, rounds {r['rounds']:.0f} late {r['late']:.0f} skipped {r['skipped']:.0f}, "
                  f"ack p99 {pct(r['ack'], 0.99):.1f} ms (floor {pct(r['floor'], 0.99):.1f}) max {max(r['ack']):.1f}",
                  flush=True)
        if not args.skip_replicas:
            replicas = await replicas_case(100, 10.0, slack, target)
            print(replicas, flush=True)
    finally:
        floor_proc.terminate()
        await floor_proc.wait()
        await target.stop()
        await slack.stop()

    if results:
        write_section("Monitor at scale", scale_table(results))
    soaks = [soak_line(r) for r in results if r["soak"]]
    if soaks:
        write_section("Monitor at scale: memory over time", "\n\n".join(soaks))
    if replicas:
        write_section("Monitor at scale: two replicas", replicas_line(replicas))


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {pct(values, 0.99):.1f} / {max(values):.1f} ms"


def scale_table(results: list[dict]) -> str:
    lines = [
        "`chatops serve` (SQLite) in its own process watches N services, all on the target emulator on loopback "
        "(ivan-reseller-web profile); meanwhile the benchmark sends 2 signed `/health svc-0000` per second to the "
        "bot and 2 to a minimal signed-ack server (bench/minimal_ack.py, same machine, same run). CPU and RSS "
        "from /proc; requests/s counted by the target; rounds from the bot's /metrics (on time = started, not "
        "skipped ahead). Measured after the first round, for at least two rounds.",
        "",
        "| services | interval | bot CPU (% of a core) | RSS idle → end (max) | target req/s | rounds on time |"
        " skipped probes | ack p50 / p99 / max | minimal server p50 / p99 / max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']} | {r['interval']:g} s | {r['cpu']:.1f}% | {r['idle_rss']:.0f} → {r['rss_end']:.0f} MB "
            f"({r['rss_max']:.0f}) | {r['req_s']:.0f} | {r['rounds'] - r['late']:.0f}/{r['rounds']:.0f} | "
            f"{r['skipped']:.0f} | {spread(r['ack'])} | {spread(r['floor'])} |")
    return "\n".join(lines)


def soak_line(r: dict) -> str:
    samples = r["rss_samples"]  # every 5 s
    first, last = samples[:12], samples[-12:]
    by_two_minutes = ", ".join(f"{max(samples[i:i + 24]):.0f}" for i in range(0, len(samples), 24))
    return (f"{r['n']} services every {r['interval']:g} s for {r['seconds'] / 60:.0f} min (signed `/health` twice a "
            f"second throughout): RSS {min(first):.0f}–{max(first):.0f} MB in the first minute, "
            f"{min(last):.0f}–{max(last):.0f} MB in the last; the highest in each 2 minutes: {by_two_minutes} MB; "
            f"{max(samples):.0f} MB at most ({len(samples)} samples, "
            f"one every 5 s); bot CPU {r['cpu']:.1f}% of a core, ack p99 {pct(r['ack'], 0.99):.1f} ms "
            f"(minimal server {pct(r['floor'], 0.99):.1f} ms).")


def replicas_line(replicas: dict) -> str:
    shares = replicas["shares"]
    return (f"Two `chatops serve` replicas on one PostgreSQL database, {replicas['n']} services every "
            f"{replicas['interval']:g} s, lease {replicas['lease']:g} s: each watches {shares[0]:.0f} and "
            f"{shares[1]:.0f} services ({shares[0] / replicas['n']:.0%} / {shares[1] / replicas['n']:.0%}); over "
            f"{replicas['rounds']} intervals they ran {replicas['probes'][0]:.0f} + {replicas['probes'][1]:.0f} probes "
            f"(one per service per round would be {replicas['rounds'] * replicas['n']}; each replica's counter is read "
            f"once at each end of the window, so a probe due right at an end can fall on either side; "
            f"tests/test_sharing.py checks that the two probe disjoint sets). After `kill -9` of one, the other "
            f"watched all {replicas['n']} after {replicas['takeover']:.1f} s.")

if __name__ == "__main__":
    asyncio.run(main())
