"""What the real ivan-reseller-web backend printed and answered when it was booted on loopback
(commit 13098d6, production mode, PostgreSQL and Redis), written down as test data: the healthy boot
lines, the lines the bot's own probes caused, and the failure lines of each recorded scenario.

``tests/test_real_backend.py`` replays them through the target and Railway emulators;
``test_the_fixtures_are_what_the_backend_printed`` checks each line against the record in
../shared/reference/real-backend-observed.md.
"""

from __future__ import annotations

# A successful boot prints these; none of them is a failure.
HEALTHY_BOOT = [
    "[BOOT] server-bootstrap {",
    "[BOOT] Health listening on port 8080 (env PORT= 8080 )",
    "[STARTUP] Listening on port 8080",
    "SERVER_BOOT_OK",
    "✅ LISTENING OK",
    "✅ Express server ready - ALL endpoints available",
    "[2026-11-30T02:47:10.203Z] 🎯 MILESTONE: LISTEN_CALLBACK - Server is listening and ready to accept connections",
    "[BOOT] ✅ Express started OK - ALL endpoints available",
    "[2026-11-30T02:47:30.204Z] SAFE_AUTH_STATUS_MODE enabled in production - skipping Chromium lazy-load",
    "[ALIEXPRESS-AFFILIATE] Not configured (ALIEXPRESS_AFFILIATE_APP_KEY/APP_SECRET missing). Server will start; "
    "AliExpress features will use fallbacks.",
    "   REDIS_URL: ✅ Configurada",
    "[BOOT] Initializing: Database, Redis, BullMQ, scheduled tasks",
]

# A request without auth to an authenticated route: an error-level line, then a warn line, both
# carrying the request's correlation id and User-Agent (here an older bot's).
OWN_PROBE_CID = "chatops-cli-a942410ccbb4"


def own_probe_lines(cid: str = OWN_PROBE_CID, user_agent: str = "chatops-cli",
                    path: str = "/api/dashboard/stats") -> list[str]:
    return [
        '2026-11-30 02:47:57 [error]: Error Tracked {"service":"ivan-reseller-backend","category":"AUTHENTICATION",'
        '"errorName":"Error","errorMessage":"Authentication required","count":1,'
        f'"correlationId":"{cid}","requestPath":"{path}","requestMethod":"GET","userAgent":"{user_agent}",'
        '"ip":"127.0.0.1","statusCode":401,"errorCode":"INTERNAL_ERROR"}',
        '2026-11-30 02:47:57 [warn]: Authentication required {"service":"ivan-reseller-backend",'
        f'"correlationId":"{cid}","statusCode":401,"path":"{path}","method":"GET",'
        f'"userAgent":"{user_agent}","isOperational":true}}',
    ]


def cors_blocked_line(origin: str, cid: str = "3f1c2a9e-5d1b-4c7e-9a0f-2b6d8e4c1a37",
                      user_agent: str = "Mozilla/5.0") -> str:
    """A real browser's request with a disallowed Origin (not the bot's)."""
    return ('2026-11-30 02:51:12 [error]: Error Tracked {"service":"ivan-reseller-backend","category":"SYSTEM",'
            f'"errorName":"Error","errorMessage":"CORS blocked: {origin} not in allowlist","count":1,'
            f'"correlationId":"{cid}","requestPath":"/api/products","requestMethod":"GET",'
            f'"userAgent":"{user_agent}","ip":"127.0.0.1","statusCode":500,"errorCode":"INTERNAL_ERROR"}}')


DB_MISSING_AT_BOOT = [
    "⚠️  Database connection attempt 1/5 failed, retrying in 2000ms...",
    "⚠️  Database connection attempt 2/5 failed, retrying in 2000ms...",
    "⚠️  Database connection attempt 3/5 failed, retrying in 2000ms...",
    "⚠️  Database connection attempt 4/5 failed, retrying in 2000ms...",
    "❌ Database connection failed after 5 attempts",
]

SHORT_SECRETS = [
    "❌ ERROR CRÍTICO DE SEGURIDAD: ENCRYPTION_KEY no válida",
    "   ENCRYPTION_KEY o JWT_SECRET debe estar configurado y tener al menos 32 caracteres",
    "⚠️  Warning: ENCRYPTION_KEY validation failed: ERROR CRÍTICO DE SEGURIDAD: ENCRYPTION_KEY no válida",
]


def redis_refused_block(host: str = "127.0.0.1", port: int = 6390) -> list[str]:
    """One of ioredis's reconnect errors, one stdout line each (Railway stores them so)."""
    return [
        f"Error: connect ECONNREFUSED {host}:{port}",
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16) {",
        "  errno: -111,",
        "  code: 'ECONNREFUSED',",
        "  syscall: 'connect',",
        f"  address: '{host}',",
        f"  port: {port}",
        "}",
    ]
