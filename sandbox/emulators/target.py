"""A local stand-in for the backend the runbook is about (``ivan-reseller-web``), on loopback.

It answers the health endpoints with the response shapes and headers recorded in target-backend.md
(§2: bodies; §3: CORS; §7: correlation ids) and takes faults per endpoint, so every verdict of
``/health`` can be produced on purpose, in tests and in the demo:

- faults (``set_fault(path, kind, **kw)``): ``refused`` (the connection is closed without an answer;
  ``close_port()`` closes the whole port), ``hang``, ``slow`` (``ms``), ``status`` (``code``, optional
  ``body``), ``wrong_shape``, ``not_json``, ``huge_body`` (``size`` bytes streamed; ``streamed[path]``
  counts those written before the client hung up), ``gzip_bomb`` (``size`` decoded bytes),
  ``redirect_loop``, ``redirect`` (``location``), ``body`` (``status``, ``json`` or ``text``,
  ``headers``: any answer you like, e.g. one that leaks a secret);
- states (``set_state(...)``): ``loading`` (every path but /health answers 503 loading),
  ``db_down_at_boot`` (/ready 503 db:false until "restart"), ``db_down_at_runtime`` (the live
  database check fails while /ready stays 200), ``safe_boot``, ``degraded_overload``,
  ``redis_down_at_boot`` (Redis was unreachable when the process booted: only ``GET /ready/`` says so);
- a gate (``set_gate(Gate(n, paths))``): requests (to ``paths``, or to every path) are held until ``n``
  of them have arrived, then all go on; ``Gate(None)`` holds them until the test calls ``open()``. A
  gate shared by several emulators proves requests to all of them were in flight at the same time: a
  client that sends them one after another never gets past it (its first request waits for the others).

``GET /ready/`` (trailing slash) and ``HEAD /ready`` reach the backend's older readiness handler
(target-backend.md §2.3 "Oddities"): ``{"ready", "checks": {"database", "redis"}, "uptime"}``, both
read from the boot state; real-backend-observed.md: the only route that reports Redis as unavailable.

``profile="runbook"`` serves the backend as it was before 2026-02-24, when
``/api/system/health/detailed`` still existed (optionally behind ``detailed_auth``).

Out of process, ``POST /_control`` takes the same switches as JSON, e.g.
``{"fault": {"path": "/ready", "kind": "slow", "ms": 200}}``, ``{"state": {"loading": true}}``,
``{"clear": "/ready"}`` or ``{"clear": null}`` (all faults), ``{"gate": {"n": 4, "paths": ["/ready"]}}``
(``{"gate": null}`` removes it, ``{"open_gate": true}`` opens it), ``{"reset": true}``.
Run standalone with ``python -m sandbox.emulators.target [--port N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import string
import time
import uuid
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aiohttp import web

from sandbox.emulators import target_cors as cors
from sandbox.emulators.base import serve_until_signalled

FAULT_KINDS = frozenset({"refused", "hang", "slow", "status", "wrong_shape", "not_json", "huge_body",
                         "gzip_bomb", "redirect_loop", "redirect", "body"})
STATES = ("loading", "db_down_at_boot", "db_down_at_runtime", "safe_boot", "degraded_overload", "redis_down_at_boot")
# Routes behind the overload-protection middleware (target-backend.md §6).
OVERLOAD_ROUTES = frozenset({"/api/dashboard/stats", "/api/dashboard/recent-activity", "/api/products",
                             "/api/automation/config", "/api/ai-suggestions", "/api/opportunities/list"})
_BARE = ("/health", "/health/")
_NOT_AFTER_CORS = ("/api/health", "/ready", "/api/ready")
_CHUNK = 64 * 1024


def _iso(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=4)
def _gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = []
    for start in range(0, size, len(block)):
        parts.append(packer.compress(block[: min(len(block), size - start)]))
    parts.append(packer.flush())
    return b"".join(parts)


@dataclass(frozen=True)
class Fault:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]


class Gate:
    """Holds requests until ``n`` have arrived (``None``: until ``open()``), then lets them and every later one
    through. ``arrived`` lists the held paths in arrival order."""

    def __init__(self, n: int | None, paths: Iterable[str] | None = None) -> None:
        self.n = n
        self.paths = frozenset(paths) if paths is not None else None
        self.arrived: list[str] = []
        self._opened = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self._opened.is_set()

    def holds(self, path: str) -> bool:
        return self.paths is None or path in self.paths

    def open(self) -> None:
        self._opened.set()

    async def pass_through(self, path: str, stopping: asyncio.Event) -> bool:
        """Wait for the gate to open; False if the emulator stopped first."""
        self.arrived.append(path)
        if self.n is not None and len(self.arrived) >= self.n:
            self.open()
        waiters = [asyncio.ensure_future(self._opened.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return self.is_open


class TargetEmulator:
    def __init__(self, profile: str = "ivan-reseller-web", *,
                 cors_origin: str | None = "https://app.example.test, https://www.example.org/",
                 cors_origins: str | None = None, frontend_url: str | None = None, production: bool = True,
                 git_sha: str | None = None, build_time: str | None = None, node: str = "v20.20.2",
                 detailed_auth: str | None = None, database_host: str | None = "127.0.0.1",
                 redis_host: str | None = "127.0.0.1", ssl_context: Any = None) -> None:
        if profile not in ("ivan-reseller-web", "runbook"):
            raise ValueError(f"unknown emulator profile {profile!r}")
        self.profile = profile
        self.production = production
        self.cors_raw = {"CORS_ORIGIN": cors_origin, "CORS_ORIGINS": cors_origins, "FRONTEND_URL": frontend_url}
        self.allowlist = cors.build_allowlist(cors_origins=cors_origins, cors_origin=cors_origin,
                                              frontend_url=frontend_url, production=production)
        self.git_sha = git_sha
        self.build_time = build_time
        self.node = node
        self.detailed_auth = detailed_auth
        self.database_host = database_host
        self.redis_host = redis_host
        self._ssl = ssl_context
        self.faults: dict[str, Fault] = {}
        self.state: dict[str, bool] = dict.fromkeys(STATES, False)
        self.gate: Gate | None = None
        self.requests: deque[SeenRequest] = deque(maxlen=2000)
        self.served = 0  # every request answered since the start (``requests`` keeps only the latest)
        self.streamed: dict[str, int] = {}  # path → bytes of a ``huge_body`` written before it ended or was cut
        self.url = ""
        self.port = 0
        self._host = "127.0.0.1"
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._started = time.time()

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl)
        await site.start()
        self._host = host
        self.port = self._runner.addresses[0][1]
        scheme = "https" if self._ssl else "http"
        self.url = f"{scheme}://{host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()  # hung handlers return
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close_port(self) -> None:
        """Stop listening (and drop open connections): the port now refuses connections."""
        await self.stop()

    async def open_port(self) -> None:
        await self.start(self._host, self.port)

    # ---- switches --------------------------------------------------------------------------------

    def set_fault(self, path: str, kind: str, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        self.faults[path] = Fault(kind, params)

    def clear_fault(self, path: str | None = None) -> None:
        if path is None:
            self.faults.clear()
        else:
            self.faults.pop(path, None)

    def set_state(self, **flags: bool) -> None:
        unknown = set(flags) - set(STATES)
        if unknown:
            raise ValueError(f"unknown state {sorted(unknown)[0]!r}; known: {', '.join(STATES)}")
        self.state.update({k: bool(v) for k, v in flags.items()})

    def set_gate(self, gate: Gate | None) -> None:
        """Hold requests at ``gate`` (None: no gate). One gate may be shared by several emulators."""
        self.gate = gate

    def reset(self) -> None:
        self.faults.clear()
        self.gate = None
        self.state = dict.fromkeys(STATES, False)
        self.requests.clear()

    def requests_to(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    # ---- request handling ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/_control":
            return await self._control(request)
        self.requests.append(SeenRequest(request.method, path, dict(request.headers)))
        self.served += 1
        if self.gate is not None and self.gate.holds(path) and not await self.gate.pass_through(path, self._stopping):
            return web.Response(status=503)
        fault = self.faults.get(path)
        if fault is not None:
            answer = await self._fault(request, fault)
            if answer is not None:
                return answer
        if request.method in ("GET", "HEAD") and (path in _BARE or path.startswith("/health/")):
            return self._bare_health(request)
        if self.state["loading"]:
            return web.json_response({"status": "loading"}, status=503)
        if path == "/api/health":
            return web.json_response({"status": "ok", "timestamp": _iso()}, headers={"X-Powered-By": "Express"})
        if path == "/ready/" or (path == "/ready" and request.method == "HEAD"):
            return self._older_ready(request)
        if path in ("/ready", "/api/ready"):
            return self._ready()
        return self._after_cors(request)

    def _bare_health(self, request: web.Request) -> web.Response:
        if request.method == "HEAD":
            return web.Response(status=200, content_type="application/json")
        return web.json_response({"status": "ok", "timestamp": _iso()})

    def _uptime(self) -> float:
        return round(time.time() - self._started, 2)

    def _memory(self) -> dict[str, Any]:
        return {"used": 58, "total": 60, "unit": "MB"}

    def _ready(self) -> web.Response:
        now = time.time()
        ready = not (self.state["db_down_at_boot"] or self.state["safe_boot"])
        body: dict[str, Any] = {
            "ok": ready, "ready": ready, "db": ready, "safeBoot": self.state["safe_boot"], "timestamp": _iso(now),
            "pid": os.getpid(), "uptime": self._uptime(), "port": self.port,
            "correlationId": f"ready-{int(now * 1000)}", "service": "ivan-reseller-backend",
        }
        if ready:
            body["build"] = {"gitSha": self._short_sha(),
                             "buildTime": self.build_time or _iso(now)}
        body["memory"] = self._memory()
        headers = {"X-Health": "ok" if ready else "degraded", "X-Response-Time": "0ms",
                   "X-Correlation-Id": body["correlationId"], "X-Powered-By": "Express"}
        return web.json_response(body, status=200 if ready else 503, headers=headers)

    def _older_ready(self, request: web.Request) -> web.Response:
        """The older handler: 503 when the database was down at boot; Redis from the boot state too."""
        db = not (self.state["db_down_at_boot"] or self.state["safe_boot"])
        redis = self.redis_host is not None and not self.state["redis_down_at_boot"] and not self.state["safe_boot"]
        body = {"ready": db, "checks": {
            "timestamp": _iso(), "service": "ivan-reseller-backend", "environment": "production",
            "database": {"status": "healthy" if db else "unhealthy", "connected": db, "source": "bootstrap_state"},
            "redis": {"status": "healthy" if redis else "not_configured_or_unavailable", "connected": redis,
                      "source": "bootstrap_state"}},
            "uptime": self._uptime()}
        if request.method == "HEAD":
            return web.Response(status=200 if db else 503, content_type="application/json")
        return web.json_response(body, status=200 if db else 503)

    def _express_headers(self, request: web.Request) -> dict[str, str]:
        cid = request.headers.get("X-Correlation-ID") or request.headers.get("X-Request-ID") or str(uuid.uuid4())
        return {"X-Powered-By": "Express", "X-Correlation-ID": cid, "X-App-Commit": self._short_sha(),
                "X-App-Build-Time": self.build_time or _iso(self._started), "X-App-Node": self.node}

    def _short_sha(self) -> str:
        return self.git_sha[:7] if self.git_sha else "unknown"

    def _after_cors(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        match = cors.match_origin(origin, self.allowlist) if origin else None
        if request.method == "OPTIONS" and origin:
            return self._preflight(request, match)
        if origin and match is not None and not cors.get_allowed(origin, match, production=self.production):
            return web.json_response(self._error_body("unknown"), status=500)
        headers = self._express_headers(request)
        if match is not None and match.entry:
            headers.update({"Access-Control-Allow-Origin": match.entry, "Access-Control-Allow-Credentials": "true",
                            "Vary": "Origin"})
        status, body, extra = self._route(request, match, headers)
        return web.json_response(body, status=status, headers={**headers, **extra})

    def _preflight(self, request: web.Request, match: cors.Match | None) -> web.Response:
        if match is None or not match.allowed:
            return web.json_response({"error": "CORS policy: origin not allowed"}, status=403)
        asked = request.headers.get("Access-Control-Request-Headers")
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": match.entry or "", "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin", "Access-Control-Allow-Methods": "GET,POST,PUT,PATCH,DELETE,OPTIONS",
            "Access-Control-Allow-Headers": asked or ("Content-Type, Authorization, X-Requested-With, Accept, "
                                                      "Origin, X-Correlation-ID"),
            "Access-Control-Expose-Headers": "Set-Cookie", "Access-Control-Max-Age": "86400"})

    def _error_body(self, correlation_id: str) -> dict[str, Any]:
        now = time.time()
        suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=9))
        return {"success": False, "error": "Internal Server Error", "errorCode": "UNKNOWN_ERROR",
                "errorId": f"ERR-{int(now * 1000)}-{suffix}", "correlationId": correlation_id,
                "timestamp": _iso(now),
                "message": "Ha ocurrido un error interno. Por favor, intenta nuevamente. Si el problema persiste, "
                           "contacta soporte con el código de error."}

    def _route(self, request: web.Request, match: cors.Match | None,
               headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        path = request.path
        if path == "/api/cors-debug":
            return 200, self._cors_debug(request, match, headers), {}
        if path == "/config":
            return 200, self._config(), {}
        if path in ("/version", "/api/version"):
            return 200, self._version(), {}
        if path == "/api/system/diagnostics":
            return 200, self._diagnostics(), {}
        if path == "/api/system/health/detailed" and self.profile == "runbook":
            return self._detailed(request, headers)
        if path in OVERLOAD_ROUTES:
            if self.state["degraded_overload"]:
                return 200, {"success": True, "degraded": True, "data": {}}, {
                    "X-Degraded": "true", "X-Overload-Reason": "event_loop_lag_180ms"}
            return 401, self._auth_required(headers), {}
        return 404, {"success": False, "message": "Route not found"}, {}

    def _auth_required(self, headers: dict[str, str]) -> dict[str, Any]:
        return {"success": False, "error": "Authentication required", "errorCode": "INTERNAL_ERROR",
                "errorId": str(uuid.uuid4()), "correlationId": headers["X-Correlation-ID"], "timestamp": _iso()}

    def _cors_debug(self, request: web.Request, match: cors.Match | None, headers: dict[str, str]) -> dict[str, Any]:
        origin = request.headers.get("Origin")
        rule = "no-origin" if match is None else ("none" if match.rule == "dynamic" else match.rule)
        matched = rule in ("exact-match", "hostname-match")
        return {
            "ok": True, "receivedOrigin": origin, "matched": matched, "matchedRule": rule,
            "matchedOrigin": match.entry if matched and match else None,
            "allowedOriginsParsed": self.allowlist, "allowedHostNoWww": cors.hosts_without_www(self.allowlist),
            "envCorsOriginRaw": self.cors_raw["CORS_ORIGIN"], "envCorsOriginsRaw": self.cors_raw["CORS_ORIGINS"],
            "envFrontendUrlRaw": self.cors_raw["FRONTEND_URL"],
            "access-control-allow-origin": headers.get("Access-Control-Allow-Origin"),
            "access-control-allow-credentials": "true", "timestamp": _iso(),
        }

    def _config(self) -> dict[str, Any]:
        raw = self.cors_raw["CORS_ORIGIN"] or "http://localhost:5173"
        items = [i.strip() for i in raw.split(",") if i.strip()]
        hosts = [cors.hostname(i) or i for i in items]
        return {"env": "production" if self.production else "development", "corsOriginCount": len(items),
                "corsOriginsSample": hosts[:3], "apiUrl": "localhost",
                "frontendUrl": self.cors_raw["FRONTEND_URL"] or "not configured",
                "hasDbUrl": self.database_host is not None, "databaseHost": self.database_host or "not configured",
                "hasRedisUrl": self.redis_host is not None, "redisHost": self.redis_host or "not configured",
                "scraperBridgeEnabled": True, "allowBrowserAutomation": False, "aliExpressDataSource": "api"}

    def _version(self) -> dict[str, Any]:
        return {"gitSha": self._short_sha(), "gitShaFull": self.git_sha,
                "buildTime": self.build_time or _iso(self._started), "node": self.node,
                "env": "production" if self.production else "development", "serviceName": "ivan-reseller-backend",
                "uptime": self._uptime()}

    def _diagnostics(self) -> dict[str, Any]:
        return {"autopilot": "FAIL", "ebayOAuth": "FAIL", "aliexpressOAuth": "FAIL", "paypal": "FAIL",
                "payoneer": "FAIL", "payoneerCertificate": "OK",
                "database": "FAIL" if self.state["db_down_at_runtime"] else "OK", "scheduler": "inactive",
                "lastCycle": None, "productsPublished": 0, "production_ready": False,
                "workflowSchedulerInitialized": False, "workflowScheduledCount": 0}

    def _detailed(self, request: web.Request, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if self.detailed_auth and request.headers.get("Authorization") != self.detailed_auth:
            return 401, self._auth_required(headers), {}
        db = not self.state["db_down_at_runtime"]
        checks: dict[str, Any] = {"db": db, "scraper": True, "time": _iso()}
        if not db:
            checks["db_error"] = "Can't reach database server at 127.0.0.1:5432"
        return 200, {"success": True, "data": {"checks": checks, "mode": "production",
                                               "environment": "production", "uptime": self._uptime()}}, {}

    # ---- faults ----------------------------------------------------------------------------------

    async def _fault(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        kind, p = fault.kind, fault.params
        if kind == "slow":
            await asyncio.sleep(float(p.get("ms", 100)) / 1000)
            return None
        if kind == "hang":
            await self._stopping.wait()
            return web.Response(status=503)
        if kind == "refused":
            if request.transport is not None:
                request.transport.abort()
            await self._stopping.wait()
            return web.Response(status=503)
        if kind == "status":
            code = int(p.get("code", 500))
            default = {"success": False, "message": "Route not found"} if code == 404 else self._error_body("unknown")
            return web.json_response(p.get("body", default), status=code)
        if kind == "wrong_shape":
            return web.json_response({"result": "fine", "items": []}, status=int(p.get("status", 200)))
        if kind == "not_json":
            return web.Response(text="<!DOCTYPE html><html><body><h1>Application Error</h1></body></html>",
                                content_type="text/html", status=int(p.get("status", 200)))
        if kind == "body":
            status, extra = int(p.get("status", 200)), p.get("headers", {})
            if "json" in p:
                return web.json_response(p["json"], status=status, headers=extra)
            return web.Response(text=str(p.get("text", "")), status=status, headers=extra)
        if kind == "redirect_loop":
            raise web.HTTPFound(location=request.path)
        if kind == "redirect":
            raise web.HTTPFound(location=str(p["location"]))
        if kind == "huge_body":
            return await self._stream(request, int(p.get("size", 100_000_000)))
        if kind == "gzip_bomb":
            data = await asyncio.to_thread(_gzip_of_zeros, int(p.get("size", 100_000_000)))
            return web.Response(body=data, headers={"Content-Encoding": "gzip",
                                                    "Content-Type": "application/json"})
        return None

    async def _stream(self, request: web.Request, size: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = size
        await response.prepare(request)
        chunk = b"x" * _CHUNK
        sent = 0
        try:
            while sent < size:
                piece = chunk[: min(_CHUNK, size - sent)]
                await response.write(piece)
                sent += len(piece)
        except (ConnectionResetError, ConnectionError):
            pass
        finally:  # also when the handler is cancelled because the client hung up
            self.streamed[request.path] = sent
        return response

    async def _control(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return web.json_response({"error": "POST JSON here"}, status=405)
        try:
            data = await request.json()
            if data.get("reset"):
                self.reset()
            if "clear" in data:
                self.clear_fault(data["clear"])
            if "fault" in data:
                spec = dict(data["fault"])
                self.set_fault(spec.pop("path"), spec.pop("kind"), **spec)
            if "state" in data:
                self.set_state(**data["state"])
            if "gate" in data:
                spec = data["gate"]
                self.set_gate(None if spec is None else Gate(spec.get("n"), spec.get("paths")))
            if data.get("open_gate") and self.gate is not None:
                self.gate.open()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        gate = None if self.gate is None else {"n": self.gate.n, "arrived": len(self.gate.arrived),
                                               "open": self.gate.is_open}
        return web.json_response({"ok": True, "state": self.state, "gate": gate,
                                  "faults": {k: {"kind": f.kind, **f.params} for k, f in self.faults.items()}})


def main() -> None:
    parser = argparse.ArgumentParser(description="Target backend emulator (ivan-reseller-web health endpoints).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--profile", default="ivan-reseller-web", choices=["ivan-reseller-web", "runbook"])
    parser.add_argument("--cors-origin", default="https://app.example.test, https://www.example.org/")
    parser.add_argument("--frontend-url", default=None)
    parser.add_argument("--git-sha", default=None)
    args = parser.parse_args()
    emulator = TargetEmulator(args.profile, cors_origin=args.cors_origin, frontend_url=args.frontend_url,
                              git_sha=args.git_sha)
    asyncio.run(serve_until_signalled(emulator, args.host, args.port))


if __name__ == "__main__":
    main()
