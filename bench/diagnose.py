"""Benchmark of `/diagnose all backend` end to end against the emulators (figures, not a timed test).

    .venv/bin/python bench/diagnose.py [--runs 20] [--no-write]

The target emulator (the backend) and the Railway emulator (sandbox/emulators/worlds/demo.json, with the
PostgreSQL service's DATABASE_URL pointing at this machine's PostgreSQL so the connection attempt is
real) run in a child process, so their CPU is not the bot's. Each run does what the Slack handler
does after its ack, minus the Slack call: a fresh Railway client (ids resolved again), the four
playbooks run concurrently by ``playbooks.run_playbooks``, then ``bot.render.diagnose`` builds the
Block Kit message. Measured: wall time per run, and, for comparison, the four playbooks run one after
another, each with its own context (as four separate `/diagnose <name>` would).
The figures replace the "## Diagnose" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

from results import write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config.services import parse_services  # noqa: E402
from bot.main import outbound_http  # noqa: E402
from bot.railway import RailwayClient  # noqa: E402
from bot.render.blocks import message_problems  # noqa: E402
from bot.render.diagnose import diagnose_message  # noqa: E402
from playbooks import PlaybookContext, playbook_names, run_playbooks  # noqa: E402

WORLD = ROOT / "sandbox" / "emulators" / "worlds" / "demo.json"
LOCAL_PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres:bench-password@127.0.0.1:5432/test")
TARGET_S = 3.0


def _world() -> dict:
    world = json.loads(WORLD.read_text(encoding="utf-8"))
    for project in world["projects"]:
        for service in project["services"]:
            if service["name"] == "Postgres":
                service["variables"]["DATABASE_URL"] = LOCAL_PG
    return world


def _serve(conn) -> None:
    """Child process: both emulators on loopback until the parent closes the pipe."""
    from sandbox.emulators.railway import RailwayEmulator
    from sandbox.emulators.target import TargetEmulator

    async def main() -> None:
        target = TargetEmulator(cors_origin="https://www.ivanreseller.com,https://ivanreseller.com",
                                frontend_url="https://www.ivanreseller.com")
        railway = RailwayEmulator(_world())
        conn.send((await target.start(), (await railway.start()) + "/graphql/v2"))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


def _services(target_url: str) -> str:
    world = json.loads(WORLD.read_text(encoding="utf-8"))
    postgres = next(s["id"] for p in world["projects"] for s in p["services"] if s["name"] == "Postgres")
    return (f'[[services]]\nname = "backend"\nurl = "{target_url}"\nprofile = "ivan-reseller-web"\n'
            f'frontend_origins = ["https://www.ivanreseller.com", "https://ivanreseller.com"]\n'
            f'database_service_id = "{postgres}"\n'
            f'[services.railway]\nproject = "ivan-reseller"\nenvironment = "production"\nservice = "backend"\n')


def _context(services, http, railway_url: str) -> PlaybookContext:
    railway = RailwayClient(http, railway_url, api_token="demo-api-token")
    return PlaybookContext(service=services.service("backend"), services=services, http=http, railway=railway)


async def _once(target_url: str, railway_url: str, *, sequential: bool) -> tuple[float, list]:
    services = parse_services(_services(target_url))
    async with outbound_http() as http:
        start = time.perf_counter()
        if sequential:  # each playbook as `/diagnose <name>` would run it: its own context and client
            findings = [f for name in playbook_names()
                        for f in await run_playbooks(name, _context(services, http, railway_url))]
        else:
            findings = await run_playbooks("all", _context(services, http, railway_url))
        text, blocks = diagnose_message("backend", findings, "es")
        elapsed = time.perf_counter() - start
    problems = message_problems(text, blocks)
    assert not problems, problems
    return elapsed, findings


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"median {statistics.median(values) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms")


async def bench(target_url: str, railway_url: str, runs: int) -> str:
    await _once(target_url, railway_url, sequential=False)  # warm imports and the emulators
    concurrent, sequential, findings = [], [], []
    for _ in range(runs):
        elapsed, findings = await _once(target_url, railway_url, sequential=False)
        concurrent.append(elapsed)
        sequential.append((await _once(target_url, railway_url, sequential=True))[0])
    verdicts = ", ".join(f"{f.playbook} {f.verdict} ({f.elapsed_ms:.0f} ms)" for f in findings)
    worst = max(concurrent)
    return "\n".join([
        f"`bench/diagnose.py`: `/diagnose all backend` end to end, {runs} runs, each with a fresh Railway client "
        "(ids resolved again). Runs the playbook runner and the Block Kit renderer directly (what the Slack "
        "handler does after its ack, without posting). Emulators in a child process: target emulator "
        "(ivan-reseller-web) and Railway emulator (demo world); the PostgreSQL service's `DATABASE_URL` points "
        "at this machine's PostgreSQL, so the db playbook's asyncpg connection is real.",
        "",
        "| measurement | result | target | verdict |",
        "|---|---|---|---|",
        f"| `all` (4 playbooks, concurrent) + render | {_stats(concurrent)} | < {TARGET_S:.0f} s | "
        f"{'met' if worst < TARGET_S else 'MISSED'} (max) |",
        f"| the 4 playbooks one after another, each with its own context + render | {_stats(sequential)} | — | "
        "reference |",
        "",
        f"Last run's findings: {verdicts}.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    try:
        target_url, railway_url = parent.recv()
        body = asyncio.run(bench(target_url, railway_url, args.runs))
    finally:
        parent.send("stop")
        proc.join(5)
        if proc.is_alive():
            proc.terminate()
    print(body)
    if not args.no_write:
        write_section("Diagnose", body)


if __name__ == "__main__":
    main()
