"""Where the CPU of a probe request goes: the monitor's rounds, timed and profiled (figures, not a test).

    .venv/bin/python bench/probe_cpu.py [--services 200] [--rounds 5] [--top 15] [--no-write]

The target emulator (ivan-reseller-web, as bench/monitor_scale.py runs it) answers in a child process,
so its CPU is not counted. This process builds the client and prober the bot builds
(``bot.probe.http.probe_client()``, aiohttp's pool under httpx; ``Prober`` with the settings' default
timeouts) and probes N services, all at the emulator's address, as the monitor does:
- a light round: ``Prober.probe_service(service, watched_only=True)``, the monitor's call while all is
  well (the profile's ``watched`` endpoints: readiness and the live database check);
- a full round: ``probe_service(service)``, the whole profile.
Each round runs every service at once under the monitor's default bound (``max_concurrent_probes``).
The requests a round sent are counted by the emulator; CPU is ``time.process_time()`` of this process.
Then the same light rounds run under cProfile (timer: process CPU time), and the top lines by tottime,
and tottime summed by package, replace the "## Probe CPU" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import os
import pstats
import statistics
import sys
import sysconfig
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import httpx
from results import write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config.services import MonitorTable, ServiceConfig  # noqa: E402
from bot.config.settings import Settings  # noqa: E402
from bot.probe import Prober  # noqa: E402
from bot.probe.http import LIMITS, probe_client  # noqa: E402
from bot.probe.models import ServiceReport  # noqa: E402

PROFILE = "ivan-reseller-web"
KINDS = ("light", "full")


def _serve(conn) -> None:
    """Child process: one target emulator. Asked "served", it answers the requests it has answered and the
    connections they came on (client address and port pairs never seen before); "stop" ends it."""
    from sandbox.emulators.target import TargetEmulator

    async def serve() -> None:
        emu = TargetEmulator(PROFILE)
        peers: set[tuple] = set()
        handle = emu._handle

        async def counting(request):
            peers.add(request.transport.get_extra_info("peername"))
            return await handle(request)

        emu._handle = counting  # read by start() when it adds the route
        conn.send(await emu.start())
        loop = asyncio.get_running_loop()
        while (msg := await loop.run_in_executor(None, conn.recv)) != "stop":
            conn.send((emu.served, len(peers)) if msg == "served" else None)
        await emu.stop()

    asyncio.run(serve())


class Target:
    def __init__(self, conn) -> None:
        self._conn = conn

    def counts(self) -> tuple[int, int]:
        """Requests answered and connections seen so far."""
        self._conn.send("served")
        return self._conn.recv()


def _prober(http: httpx.AsyncClient) -> Prober:
    """As ``bot.runtime.build_runtime`` builds it, with the settings' defaults (no health auth)."""
    defaults = Settings()
    return Prober(http, endpoint_timeout=defaults.CHATOPS_PROBE_TIMEOUT_SECONDS,
                  total_timeout=defaults.CHATOPS_PROBE_BUDGET_SECONDS)


async def _round(prober: Prober, services: list[ServiceConfig], kind: str, bound: int) -> list[ServiceReport]:
    """Every service once, under the monitor's bound, with the monitor's call for this kind of round."""
    slots = asyncio.Semaphore(bound)

    async def one(service: ServiceConfig) -> ServiceReport:
        async with slots:
            return await prober.probe_service(service, watched_only=kind == "light")

    return list(await asyncio.gather(*(one(s) for s in services)))


async def measure(target: Target, services: list[ServiceConfig], rounds: int, bound: int,
                  profiler: cProfile.Profile | None = None) -> dict:
    """``rounds`` of each kind after one warm-up of each; CPU, wall and requests per round.
    With ``profiler``, only light rounds run, and only they are profiled."""
    out: dict = {k: [] for k in KINDS}
    verdicts: dict[str, dict[str, int]] = {k: defaultdict(int) for k in KINDS}
    kinds = ("light",) if profiler else KINDS
    async with probe_client() as http:
        prober = _prober(http)
        for kind in kinds:
            await _round(prober, services, kind, bound)  # warm-up: connections open, profile loaded
        for _ in range(rounds):
            for kind in kinds:
                served0, conns0 = target.counts()
                if profiler:
                    profiler.enable()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                reports = await _round(prober, services, kind, bound)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                if profiler:
                    profiler.disable()
                served, conns = target.counts()
                sent = sum(e.status is not None for r in reports for e in r.endpoints)
                out[kind].append({"cpu": cpu, "wall": wall, "requests": served - served0, "answered": sent,
                                  "connections": conns - conns0})
                for r in reports:
                    verdicts[kind][r.verdict] += 1
    out["verdicts"] = {k: dict(v) for k, v in verdicts.items()}
    return out


# ---- the profile, read --------------------------------------------------------------------------

_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_SITE = {Path(p).resolve() for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}


def package_of(filename: str) -> str | None:
    """The top-level package of a profiled function's file (None for C functions, "~")."""
    if filename == "~":
        return None
    if filename.startswith("<frozen "):
        return filename.removeprefix("<frozen ").rstrip(">").split(".")[0] + " (stdlib)"
    path = Path(filename).resolve()
    for base, label in [*((s, None) for s in _SITE), (ROOT, None), (_STDLIB, "stdlib")]:
        try:
            rel = path.relative_to(base)
        except ValueError:
            continue
        top = rel.parts[0].removesuffix(".py")
        return f"{top} (stdlib)" if label else top
    return filename


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    path = Path(filename).resolve()
    for base in (*_SITE, ROOT, _STDLIB):
        try:
            return f"{path.relative_to(base)}:{line}({name})"
        except ValueError:
            continue
    return f"{filename}:{line}({name})"


def by_package(stats: pstats.Stats) -> dict[str, tuple[float, int]]:
    """tottime and calls summed by package. A C function ("~") counts with the packages of its callers,
    pro rata of what each caller spent in it (so json's scanner counts as json, a socket send as asyncio)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for func, (_cc, nc, tt, _ct, callers) in stats.stats.items():
        own = package_of(func[0])
        if own is not None:
            totals[own][0] += tt
            totals[own][1] += nc
            continue
        whole_t = sum(v[2] for v in callers.values())
        whole_n = sum(v[1] for v in callers.values())
        if not whole_n:
            totals["C functions (caller not recorded)"][0] += tt
            totals["C functions (caller not recorded)"][1] += nc
            continue
        for caller, v in callers.items():
            bucket = totals[package_of(caller[0]) or "C functions (called from C)"]
            bucket[0] += tt * (v[2] / whole_t if whole_t else v[1] / whole_n)
            bucket[1] += nc * v[1] / whole_n
    return {k: (t, round(n)) for k, (t, n) in totals.items()}


def cumulative(stats: pstats.Stats, filename_end: str, name: str) -> float:
    """cumtime of the functions named ``name`` in files ending with ``filename_end``."""
    return sum(v[3] for f, v in stats.stats.items() if f[0].endswith(filename_end) and f[2] == name)


def own_time(stats: pstats.Stats, match) -> float:
    """tottime of the functions ``match(func)`` accepts."""
    return sum(v[2] for f, v in stats.stats.items() if match(f))


# ---- the section --------------------------------------------------------------------------------

def _loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _per_request(rows: list[dict]) -> list[float]:
    return [r["cpu"] / r["requests"] * 1000 for r in rows if r["requests"]]


def render(args: argparse.Namespace, plain: dict, profiled: dict, stats: pstats.Stats, load: tuple[str, str],
           bound: int) -> str:
    n = args.services
    lines = [
        f"`bench/probe_cpu.py`: {n} services (profile {PROFILE}, all at the address of one target emulator, "
        f"which answers in a child process whose CPU is not counted), probed by `Prober` on `probe_client()` "
        f"(httpx {httpx.__version__} on aiohttp {aiohttp.__version__}: the bot's client) with the monitor's "
        f"calls: a light round is `probe_service(s, watched_only=True)`, a full round `probe_service(s)`. Every "
        f"service at once under the monitor's default bound ({bound} probes at a time); {args.rounds} rounds of "
        f"each after one warm-up round of each (connections open). Requests = what the emulator answered in "
        f"the round; new connections = client address and port pairs the emulator had not seen before (the "
        f"transport hands aiohttp {LIMITS.max_connections} connections at most and a {LIMITS.keepalive_expiry:g} s "
        f"keep-alive, not httpx's max_keepalive_connections); CPU = `time.process_time()` of the probing process "
        f"(user + system).",
        "",
        f"The machine is shared with other engineers' work, so CPU times vary from run to run: load average "
        f"(1 / 5 / 15 min) {load[0]} at the start, {load[1]} at the end.",
        "",
        "| round | requests per round | new connections per round (median) | CPU per round (median, min–max) "
        "| CPU per request (median, min–max) | wall per round (median) | verdicts (reports over all rounds) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        rows = plain[kind]
        reqs = sorted({r["requests"] for r in rows})
        cpu = [r["cpu"] * 1000 for r in rows]
        per = _per_request(rows)
        verdicts = ", ".join(f"{v} {c}" for v, c in sorted(plain["verdicts"][kind].items()))
        lines.append(
            f"| {kind} | {'/'.join(map(str, reqs))} ({reqs[0] / n:g} per service) "
            f"| {statistics.median(r['connections'] for r in rows):g} "
            f"| {statistics.median(cpu):.0f} ms ({min(cpu):.0f}–{max(cpu):.0f}) "
            f"| {statistics.median(per):.3f} ms ({min(per):.3f}–{max(per):.3f}) "
            f"| {statistics.median(r['wall'] * 1000 for r in rows):.0f} ms | {verdicts} |")
    mismatch = [r for k in KINDS for r in plain[k] if r["requests"] != r["answered"]]
    if mismatch:
        lines += ["", f"In {len(mismatch)} round(s) the emulator's count differs from the endpoints the reports "
                      f"show answered (a redirect, or a request without an answer)."]

    total = stats.total_tt
    light = profiled["light"]
    requests = sum(r["requests"] for r in light)
    profiled_ms = sum(r["cpu"] for r in light) / requests * 1000
    plain_ms = statistics.median(_per_request(plain["light"]))
    lines += [
        "",
        "### Light round under cProfile",
        "",
        f"{len(light)} light rounds ({requests} requests) under `cProfile`, its timer the process's CPU time, "
        f"after an unprofiled warm-up round. {stats.total_calls / requests:.0f} function calls per request "
        f"(C functions included). Profiled, a request cost {profiled_ms:.3f} ms of CPU against {plain_ms:.3f} ms "
        f"unprofiled: the profiler's cost is paid per call, so functions called many times are over-weighted; "
        f"read the shares as an upper bound for call-heavy code. Top {args.top} by tottime (a name without a "
        f"file is a C function):",
        "",
        "| function | ncalls | tottime | cumtime | share of total tottime |",
        "|---|---|---|---|---|",
    ]
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:args.top]
    for func, (cc, nc, tt, ct, _callers) in top:
        calls = f"{nc}/{cc}" if nc != cc else f"{nc}"
        lines.append(f"| `{_where(func)}` | {calls} | {tt:.3f} s | {ct:.3f} s | {tt / total * 100:.1f}% |")
    packages = by_package(stats)
    ordered = sorted(packages.items(), key=lambda kv: kv[1][0], reverse=True)
    shown = [(p, t, c) for p, (t, c) in ordered if t / total >= 0.005]
    lines += [
        "",
        f"By the top-level package of the function's file (a C function counts with the packages that called "
        f"it, pro rata); total tottime {total:.3f} s:",
        "",
        "| package | tottime | share | calls per request |",
        "|---|---|---|---|",
    ]
    lines += [f"| {p} | {t:.3f} s | {t / total * 100:.1f}% | {c / requests:.0f} |" for p, t, c in shown]
    rest_t = total - sum(t for _, t, _ in shown)
    rest_c = stats.total_calls - sum(c for _, _, c in shown)
    if len(ordered) > len(shown):
        lines.append(f"| {len(ordered) - len(shown)} others, each under 0.5% | {rest_t:.3f} s | "
                     f"{rest_t / total * 100:.1f}% | {rest_c / requests:.0f} |")
    lines += ["", reading(stats, packages)]
    return "\n".join(lines) + "\n"


def reading(stats: pstats.Stats, packages: dict[str, tuple[float, int]]) -> str:
    """The paragraph: the shares the profile shows for each layer a request passes through."""
    total = stats.total_tt

    def share(seconds: float) -> str:
        return f"{seconds / total * 100:.0f}%"

    def cum(filename_end: str, name: str) -> str:
        return share(cumulative(stats, filename_end, name))

    def pkg(name: str) -> str:
        return share(packages.get(name, (0.0, 0))[0])

    sockets = own_time(stats, lambda f: f[0] == "~" and ("_socket.socket" in f[2] or "select.epoll" in f[2]))
    probe_own = own_time(stats, lambda f: "/bot/probe/" in f[0])
    common_own = own_time(stats, lambda f: "/bot/common/" in f[0])
    return (
        f"Reading (shares of the profile's total tottime; cumulative figures include what a function calls): "
        f"the request path as the engine runs it, `bot.probe.fetch.fetch`, is {cum('bot/probe/fetch.py', 'fetch')} "
        f"cumulative; inside it httpx's `AsyncClient.send` {cum('httpx/_client.py', 'send')} and "
        f"`build_request` {cum('httpx/_client.py', 'build_request')}. Within `send`, the aiohttp transport "
        f"(`handle_async_request`, aiohttp's own request and response code under it) is "
        f"{cum('httpx_aiohttp/transport.py', 'handle_async_request')} and httpx's cookie extraction from each "
        f"response (`Cookies.extract_cookies`, through urllib and email objects) "
        f"{cum('httpx/_models.py', 'extract_cookies')}. The socket sends and receives and the selector's poll "
        f"(the system calls) are {share(sockets)} as their own time. The verdict on each answer "
        f"(`verdict.judge`: JSON parse, field extraction with redaction, shape check) is "
        f"{cum('bot/probe/verdict.py', 'judge')} cumulative, of which `json.loads` "
        f"{cum('json/__init__.py', 'loads')}; loading the profile per probe (`load_profile`) "
        f"{cum('bot/probe/profiles.py', 'load_profile')}; the report (`Prober._report`) "
        f"{cum('bot/probe/engine.py', '_report')}. By package, httpx is {pkg('httpx')}, aiohttp {pkg('aiohttp')} "
        f"(with httpx_aiohttp {pkg('httpx_aiohttp')}), asyncio {pkg('asyncio (stdlib)')} and our `bot` "
        f"{pkg('bot')} (with the C functions it calls; its Python functions' own time: `bot/probe/*` "
        f"{share(probe_own)}, `bot/common/*` (redaction, request tagging) {share(common_own)})."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="print the figures without writing RESULTS.md")
    args = parser.parse_args()
    bound = MonitorTable().max_concurrent_probes
    load_start = _loadavg()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    try:
        url = parent.recv()
        target = Target(parent)
        services = [ServiceConfig(name=f"svc-{i:04d}", url=url, profile=PROFILE) for i in range(args.services)]
        plain = asyncio.run(measure(target, services, args.rounds, bound))
        profiler = cProfile.Profile(time.process_time)
        profiled = asyncio.run(measure(target, services, args.rounds, bound, profiler))
    finally:
        parent.send("stop")
        server.join(10)
    stats = pstats.Stats(profiler)
    body = render(args, plain, profiled, stats, (load_start, _loadavg()), bound)
    print(body)
    if not args.no_write:
        write_section("Probe CPU", body)


if __name__ == "__main__":
    main()
