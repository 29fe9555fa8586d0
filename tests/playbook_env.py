"""A small world for the playbook tests: the target emulator (the backend) and the Railway emulator
(project ``ivan-reseller`` with services ``backend`` and ``Postgres``), wired into a PlaybookContext.

Scenarios change one thing at a time: a variable, the logs of the active deployment, the metrics,
a deployment's status, or a switch of the target emulator.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.config.services import parse_services
from bot.railway import RailwayClient
from playbooks.base import PlaybookContext
from sandbox.emulators.railway import RailwayEmulator
from sandbox.emulators.target import TargetEmulator

PROJECT_ID = "5b0f3c1e-8a2d-4f6b-9c3e-1d7a2b4c6e80"
ENV_ID = "c9e2a7d4-3b1f-4e8a-a6d5-7f0b9c2e4a11"
BACKEND_ID = "a3d8f1c6-5e2b-4a9d-8f7c-0b1e3d5a7c92"
POSTGRES_ID = "e7b4c2a9-1d6f-4b3e-9a8c-5f2d0e6b8a33"
REDIS_ID = "b81f4c6d-2e9a-4d7b-8c5f-3a1e6d9b0c44"
REDIS_DEPLOYMENT_ID = "7a3d9e8b-3e0f-4d1a-8c9b-f8e1d4a7b2c8"
REDIS_PASSWORD = "pzQzRMKTSo3u9224XF2mVqYgPLPeRF87"
REDIS_URL = f"redis://default:{REDIS_PASSWORD}@redis.railway.internal:6379"
ACTIVE_ID = "5e1b7a6f-1c8d-4bde-8a7f-d6c9b2e5f0a6"
JWT = "90996dd9de5798121e8fa462d6e85bda6a317873a59e01b29a0a9a4d296e948c"
KEY = "5a0b1e5bb93e6d63111541f7a139d6f67edf17de7d6f61188767d84a1a3c1fc2"
PG_PASSWORD = "PTGuZeJFEBZj6SzwDOhiXRxL0GQN87B1"
# Railway's private network, out of the bot's reach (as for a bot running outside Railway): the
# connection attempt is inconclusive and the other checks decide, unless a test says otherwise.
PG_URL = f"postgresql://postgres:{PG_PASSWORD}@postgres.railway.internal:5432/railway"
ORIGINS = ["https://www.ivanreseller.com", "https://ivanreseller.com"]

BOOT_LINES = [
    "[BOOT] Health listening on port 8080 (env PORT= 8080 )",
    "=== IVAN RESELLER BACKEND BOOT ===",
    "[STARTUP] Listening on port 8080",
    "SERVER_BOOT_OK",
    "✅ LISTENING OK",
    "   LISTENING host=0.0.0.0 port=8080",
    "✅ ENCRYPTION_KEY validada (longitud: 64 caracteres)",
    "✅ JWT_SECRET: Configurado (64 caracteres, hash: 2b353bc0cb6a2114...)",
    "[BOOT] Express app loaded - full routing active",
    "✅ Database connected successfully",
    "✅ Prisma connect ok",
    "✅ Redis connected",
]


def lines(messages: list[str], start: float = 95.0, step: float = 0.1) -> list[dict[str, Any]]:
    return [{"timestamp": f"+{start + i * step:.3f}s", "message": m} for i, m in enumerate(messages)]


def flat(value: float, n: int = 61) -> dict[str, Any]:
    return {"start": "now-60m", "step": 60, "values": [value] * n}


def series(values: list[float]) -> dict[str, Any]:
    return {"start": f"now-{len(values) - 1}m", "step": 60, "values": values}


def base_world(pg_url: str = PG_URL) -> dict[str, Any]:
    return {
        "projects": [{
            "id": PROJECT_ID, "name": "ivan-reseller",
            "environments": [{"id": ENV_ID, "name": "production"}],
            "services": [
                {"id": BACKEND_ID, "name": "backend", "variables": {
                    "NODE_ENV": "production", "PORT": "8080", "DATABASE_URL": "${{Postgres.DATABASE_URL}}",
                    "REDIS_URL": REDIS_URL,
                    "JWT_SECRET": JWT, "ENCRYPTION_KEY": KEY,
                    "CORS_ORIGIN": "https://www.ivanreseller.com,https://ivanreseller.com"},
                 "metrics": {"MEMORY_USAGE_GB": flat(0.5), "MEMORY_LIMIT_GB": flat(8), "CPU_USAGE": flat(0.2),
                             "CPU_LIMIT": flat(8)}},
                {"id": POSTGRES_ID, "name": "Postgres", "variables": {
                    "PGPASSWORD": PG_PASSWORD, "DATABASE_URL": pg_url,
                    "DATABASE_PUBLIC_URL": f"postgresql://postgres:{PG_PASSWORD}@shuttle.proxy.rlwy.net:41873/railway"}},
                {"id": REDIS_ID, "name": "Redis", "variables": {
                    "REDISHOST": "redis.railway.internal", "REDISPORT": "6379", "REDISPASSWORD": REDIS_PASSWORD,
                    "REDIS_URL": REDIS_URL,
                    "REDIS_PUBLIC_URL": f"redis://default:{REDIS_PASSWORD}@shuttle.proxy.rlwy.net:24519"}},
            ],
        }],
        "deployments": [
            {"id": "1a7d3c2b-7e4f-4d9a-8c3b-f2e5d8a1b6c2", "service": "backend", "status": "REMOVED",
             "createdAt": "now-1d4h", "logs": lines(BOOT_LINES)},
            {"id": ACTIVE_ID, "service": "backend", "status": "SUCCESS", "createdAt": "now-3h",
             "logs": lines(BOOT_LINES)},
            {"id": "6f2c8b7a-2d9e-4cef-9b8a-e7d0c3f6a1b7", "service": "Postgres", "status": "SUCCESS",
             "createdAt": "now-21d"},
            {"id": REDIS_DEPLOYMENT_ID, "service": "Redis", "status": "SUCCESS", "createdAt": "now-21d"},
        ],
    }


def services_toml(url: str, *, origins: list[str] | None = None, database: bool = True, redis: bool = True,
                  railway: bool = True, profile: str = "ivan-reseller-web") -> str:
    origin_list = ", ".join(f'"{o}"' for o in (ORIGINS if origins is None else origins))
    text = f'[[services]]\nname = "backend"\nurl = "{url}"\nprofile = "{profile}"\nfrontend_origins = [{origin_list}]\n'
    if database:
        text += f'database_service_id = "{POSTGRES_ID}"\n'
    if redis:
        text += f'redis_service_id = "{REDIS_ID}"\n'
    if railway:
        text += f'[services.railway]\nproject_id = "{PROJECT_ID}"\nenvironment_id = "{ENV_ID}"\nservice = "backend"\n'
    return text


@dataclass
class Env:
    target: TargetEmulator
    railway: RailwayEmulator
    http: httpx.AsyncClient
    toml: str

    def context(self, *, lang: str = "en", railway: bool = True, **kw: Any) -> PlaybookContext:
        services = parse_services(kw.pop("toml", self.toml))
        client = RailwayClient(self.http, self.railway.graphql_url, api_token="test-api-token",
                               max_read_retries=0, timeout=5) if railway else None
        return PlaybookContext(service=services.service("backend"), services=services, http=self.http,
                               railway=client, lang=lang, **{"http_timeout": 2.0, "db_timeout": 1.0, **kw})

    # world changes
    def set_variables(self, service: str = "backend", **values: str) -> None:
        self.railway.world.set_variables(service, values)

    def drop_variable(self, name: str, service: str = "backend") -> None:
        sid = self.railway.world.service(service)["id"]
        self.railway.world.variables[sid].pop(name, None)

    def add_logs(self, messages: list[str], start: float = 200.0, step: float = 0.01) -> None:
        dep = self.railway.world.deployment(ACTIVE_ID)
        current = [{"timestamp": r.ts, "message": r.message, "severity": r.severity} for r in dep.logs]
        self.railway.world.set_logs(ACTIVE_ID, current + lines(messages, start, step))

    def set_logs(self, messages: list[str]) -> None:
        self.railway.world.set_logs(ACTIVE_ID, lines(messages))

    def set_metric(self, measurement: str, values: list[float]) -> None:
        now = self.railway.world.loaded_at
        n = len(values)
        self.railway.world.set_metrics("backend", measurement, [(now - (n - 1 - i) * 60, v)
                                                                 for i, v in enumerate(values)])


@asynccontextmanager
async def environment(world: dict[str, Any] | None = None, *, target_kwargs: dict[str, Any] | None = None,
                      **toml_kw: Any) -> AsyncIterator[Env]:
    target = TargetEmulator(**{"cors_origin": "https://www.ivanreseller.com,https://ivanreseller.com",
                               **(target_kwargs or {})})
    railway = RailwayEmulator(copy.deepcopy(world or base_world()))
    url = await target.start()
    await railway.start()
    http = httpx.AsyncClient(timeout=5, follow_redirects=False)
    try:
        yield Env(target, railway, http, services_toml(url, **toml_kw))
    finally:
        await http.aclose()
        await railway.stop()
        await target.stop()
