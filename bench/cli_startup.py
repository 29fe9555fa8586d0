"""Benchmark of the CLI's start-up: how long a person waits for ``chatops`` (figures, not a timed test).

    .venv/bin/python bench/cli_startup.py [--runs 10] [--no-write]

Each command runs ``--runs`` times as a fresh process (the installed ``chatops`` script, from an empty
directory, as an operator types it); the figure is the median wall time. Measured in the same run:
- the floor, ``python -c pass`` (the interpreter's own start);
- ``chatops --help`` and ``chatops health --help``: target under 0.3 s;
- ``chatops health <url>`` against the target emulator (``python -m sandbox.emulators.target``, in its
  own process), compared with the probe's own time measured in-process here: the same Prober, profile
  and timeouts as the CLI, a fresh client (cold connections) each time. Target: CLI ≤ probe + 0.5 s.
The figures replace the "## CLI start-up" section of bench/RESULTS.md (bench/results.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config.services import ServicesFile  # noqa: E402
from bot.probe import Prober, resolve_targets  # noqa: E402
from bot.probe.http import probe_client  # noqa: E402

CHATOPS = Path(sys.executable).with_name("chatops")
HELP_TARGET_S = 0.3
HEALTH_MARGIN_S = 0.5
CLI_TIMEOUT_S = 5.0  # ``chatops health``'s default --timeout, used for the in-process probe too


def _timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; its CPU time (user + system) is what start-up costs on an idle
    machine, while the wall time also holds the waits for a core on a busy one."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_run(argv: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """Median wall and median CPU time of ``runs`` runs."""
    timed = [_timed(argv, cwd) for _ in range(runs)]
    return statistics.median(w for w, _ in timed), statistics.median(c for _, c in timed)


async def probe_once(url: str) -> tuple[float, str]:
    """One probe of ``url`` as ``chatops health <url>`` does it, timed from the client's creation."""
    start = time.perf_counter()
    [(service, path)] = resolve_targets(url, ServicesFile(), allow_any_url=True, profile="runbook")
    async with probe_client(transport="httpx") as http:  # as the CLI, for one URL
        prober = Prober(http, endpoint_timeout=CLI_TIMEOUT_S, total_timeout=CLI_TIMEOUT_S + 3.0,
                        correlation_kind="cli")
        report = await prober.probe_service(service, path)
    return time.perf_counter() - start, report.verdict


async def median_probe(url: str, runs: int) -> tuple[float, str]:
    await probe_once(url)  # warm-up: this process's imports and first-use caches are not the probe's time
    timed = [await probe_once(url) for _ in range(runs)]
    return statistics.median(t for t, _ in timed), timed[-1][1]


def start_target() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.emulators.target", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"the target emulator did not start: {url!r}")
    return proc, url


Timed = tuple[float, float]  # median wall, median CPU seconds


def render(runs: int, floor: Timed, top_help: Timed, health_help: Timed, probe: float, cli: Timed,
           verdict: str, load: tuple[float, float]) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def row(name: str, timed: Timed, target: str, ok: bool) -> str:
        return (f"| {name} | {ms(timed[0])} | {ms(timed[0] - floor[0])} | {ms(timed[1])} | {target} | "
                f"{met(ok)} |")

    return "\n".join([
        f"`bench/cli_startup.py`: median of {runs} runs each, every command a fresh process (the installed "
        "`chatops` script, started from an empty directory); the floor is measured in the same run. "
        "The URL is the target emulator (`python -m sandbox.emulators.target`, ivan-reseller-web, own process); "
        f"its verdict: {verdict}. Load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} at the end: "
        "the 2 cores are shared, and start-up is CPU work, so the figures grow with the load.",
        "",
        "| command | median wall | above the floor | median CPU | target (wall) | verdict |",
        "|---|---|---|---|---|---|",
        f"| `python -c pass` (floor) | {ms(floor[0])} | — | {ms(floor[1])} | — | reference |",
        row("`chatops --help`", top_help, f"< {ms(HELP_TARGET_S)}", top_help[0] < HELP_TARGET_S),
        row("`chatops health --help`", health_help, f"< {ms(HELP_TARGET_S)}", health_help[0] < HELP_TARGET_S),
        f"| the probe of that URL, in-process (fresh client each time) | {ms(probe)} | — | — | — | reference |",
        row("`chatops health <url>`", cli, f"≤ probe + {ms(HEALTH_MARGIN_S)} = {ms(probe + HEALTH_MARGIN_S)}",
            cli[0] <= probe + HEALTH_MARGIN_S),
        "",
        "A verb imports its libraries inside its run function, so `--help` loads none of Bolt, SQLAlchemy, "
        "aiohttp, httpx or the demo (tests/test_cli_startup.py checks which modules each command line loads).",
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print the figures without writing RESULTS.md")
    args = parser.parse_args()
    if not CHATOPS.exists():
        raise SystemExit(f"{CHATOPS} not found: install the project (pip install -e .) in this interpreter's venv")
    load_before = os.getloadavg()[0]
    target, url = start_target()
    try:
        with tempfile.TemporaryDirectory() as empty:
            cwd = Path(empty)
            _timed([str(CHATOPS), "--help"], cwd)  # warm the file cache once, for every command alike
            floor = median_run([sys.executable, "-c", "pass"], args.runs, cwd)
            top_help = median_run([str(CHATOPS), "--help"], args.runs, cwd)
            health_help = median_run([str(CHATOPS), "health", "--help"], args.runs, cwd)
            probe, verdict = asyncio.run(median_probe(url, args.runs))
            cli = median_run([str(CHATOPS), "health", url], args.runs, cwd)
    finally:
        target.terminate()
        target.wait(timeout=10)
    body = render(args.runs, floor, top_help, health_help, probe, cli, verdict, (load_before, os.getloadavg()[0]))
    print(body)
    if not args.no_write:
        write_section("CLI start-up", body)


if __name__ == "__main__":
    main()
