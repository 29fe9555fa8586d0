"""bot.changes.logscan against the backend's real log lines (target-backend.md §4-§7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.changes.logscan import PATTERNS, blocks, clean, scan
from bot.common.identity import USER_AGENT, correlation_id
from bot.railway.models import LogLine
from tests import real_backend as real
from tests.shared import shared_path

GREEN, RED, YELLOW, RESET = "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[39m"


def _doc_lines() -> list[str]:
    """Every line of target-backend.md's code blocks and inline code spans."""
    text = shared_path("reference/target-backend.md").read_text(encoding="utf-8")
    out: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        out += [line for line in block.splitlines() if line.strip()]
    out += re.findall(r"`([^`\n]{6,})`", text)
    return out


def _doc_line(fragment: str) -> str:
    found = [line for line in _doc_lines() if fragment in line]
    assert found, f"target-backend.md no longer quotes a line with {fragment!r}"
    return found[0]


# (fragment that identifies a line quoted in target-backend.md, pattern it must trigger)
DOC_CASES = [
    ("ENCRYPTION_KEY validation failed:", "encryption_key_validation_failed"),
    ("ERROR CRÍTICO DE SEGURIDAD: ENCRYPTION_KEY no válida", "encryption_key_invalid"),
    ("ERROR CRÍTICO: JWT_SECRET no está configurado", "jwt_secret_short"),
    ("ENCRYPTION_KEY or JWT_SECRET not configured or too short", "secrets_degraded"),
    ("Missing required env in production", "missing_required_env"),
    ("ENCRYPTION_KEY configurada desde JWT_SECRET", "encryption_key_from_jwt"),
    ("ENCRYPTION_KEY validada", "encryption_key_ok"),
    ("✅ JWT_SECRET: Configurado (", "jwt_secret_ok"),
    ("DATABASE_URL no encontrada", "db_url_missing"),
    ("DATABASE_URL tiene formato inválido", "db_url_invalid"),
    ("Variable Reference no resuelta", "db_url_invalid"),
    ("Database connection attempt N/5 failed", None),  # "N" in the doc: checked with a number below
    ("Database connection failed after 5 attempts", "db_connect_failed"),
    ("Database connection timeout after 15s", "db_connect_failed"),
    ("Prisma connect fail", "prisma_error"),
    ("Database migrations failed", "migrations_failed"),
    ("Redis error: Error: connect ECONNREFUSED", "redis_error"),
    ("[Overload Protection] System overloaded", "overload"),
    ("High memory usage detected", "high_memory"),
    ("UNCAUGHT EXCEPTION", "uncaught_exception"),
    ("UNHANDLED REJECTION", "unhandled_rejection"),
    ("Shutting down gracefully", "shutdown"),
    ("CORS REJECT", "cors_rejected"),
    ("SERVER_BOOT_OK", "listening"),
    ("✅ LISTENING OK", "listening"),
    ("[STARTUP] Listening on port", "listening"),
    ("[BOOT] Express app loaded", "app_loaded"),
    ("Database connected successfully", "db_connected"),
    ("Redis connected", "redis_connected"),
    ("Redis not available - skipping job workers", "redis_unavailable"),
]


@pytest.mark.shared
@pytest.mark.parametrize(("fragment", "pattern"), [c for c in DOC_CASES if c[1]])
def test_real_lines_from_the_reference_match(fragment: str, pattern: str) -> None:
    line = _doc_line(fragment)
    result = scan([line])
    assert result.count(pattern) == 1, (line, result.matched)


@pytest.mark.shared
def test_the_doc_lines_do_not_all_match_everything() -> None:
    """Each doc line triggers its own pattern and not the unrelated ones (no catch-all regex)."""
    boot = scan([_doc_line("SERVER_BOOT_OK")])
    assert set(boot.matched) == {"listening"}
    ok = scan([_doc_line("ENCRYPTION_KEY validada")])
    assert "encryption_key_invalid" not in ok.matched and "encryption_key_validation_failed" not in ok.matched


@pytest.mark.shared
def test_db_retry_line_with_its_indented_error_is_one_block() -> None:
    text = _doc_line("Database connection attempt N/5 failed").replace("N/5", "2/5")
    entries = [text, "   Error: P1000: Authentication failed against database server at `db.example`, the provided "
               "database credentials for `postgres` are not valid."]
    result = scan(entries)
    assert result.blocks == 1
    assert result.count("db_connect_retry") == 1 and result.count("p1000") == 1
    assert result.last["p1000"].text.startswith("⚠️  Database connection attempt 2/5 failed")


def test_the_runbooks_boot_line_is_never_required() -> None:
    """The code prints no "Server running on port": boot_ok comes from the real boot lines."""
    lines = ["[BOOT] Health listening on port 48400 (env PORT= 48400 )", "=== IVAN RESELLER BACKEND BOOT ===",
             "[STARTUP] Listening on port 48400", "SERVER_BOOT_OK", "✅ LISTENING OK",
             "   LISTENING host=0.0.0.0 port=48400", "📦 BOOTSTRAP MODE: FULL_BOOT (all services)",
             "[BOOT] Express app loaded - full routing active", "✅ Database connected successfully"]
    result = scan(lines)
    assert result.boot_ok and result.listening
    assert result.blocks == 8  # the indented LISTENING line belongs to "✅ LISTENING OK"
    before_app = scan(lines[:6])
    assert before_app.listening and not before_app.boot_ok


def test_boot_then_port_in_use_is_not_ok() -> None:
    result = scan(["[BOOT] Express app loaded - full routing active",
                   "[BOOT] HTTP server error: { port: 8080, code: 'EADDRINUSE', errno: -98 }"])
    assert not result.boot_ok
    assert result.count("eaddrinuse") == 1


def test_ansi_coloured_winston_lines() -> None:
    line = (f"2026-11-27 21:28:53 [{YELLOW}warn{RESET}]: [Overload Protection] System overloaded, returning degraded "
            'response {"service":"ivan-reseller-backend","correlationId":"c-1","path":"/api/products",'
            '"reason":"memory_high_heap_93%"}')
    err = (f"2026-11-27 21:30:11 [{RED}error{RESET}]: CORS blocked: https://evil.example.net not in allowlist "
           '{"service":"ivan-reseller-backend","errorId":"ERR-1","statusCode":500}')
    info = (f"2026-11-27 21:28:53 [{GREEN}info{RESET}]: HTTP Response "
            '{"service":"ivan-reseller-backend","statusCode":404,"path":"/api/system/health/detailed"}')
    result = scan([line, err, info])
    assert result.count("overload") == 1 and result.count("high_memory") == 1
    assert result.count("cors_rejected") == 1
    assert result.error_count == 1  # the winston "error" level; the info line with a 404 is no error
    assert "\x1b" not in result.errors[0].text and result.errors[0].text.startswith("CORS blocked:")


def test_winston_json_file_lines() -> None:
    line = ('{"level":"error","message":"Slow Request (>2s)","service":"ivan-reseller-backend",'
            '"timestamp":"2026-11-27 21:30:11","correlationId":"c-9"}')
    result = scan([line])
    assert result.error_count == 1
    assert result.errors[0].text.startswith("Slow Request (>2s)")


def _redis_block(port: int = 6379) -> str:
    return "\n".join([
        f"❌ Redis error: Error: connect ECONNREFUSED 127.0.0.1:{port}",
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {",
        "  errno: -111,",
        "  code: 'ECONNREFUSED',",
        "  syscall: 'connect',",
        "  address: '127.0.0.1',",
        f"  port: {port}",
        "}",
    ])


def test_redis_flood_multi_line_blocks_one_entry_each() -> None:
    result = scan([_redis_block()] * 300)
    assert result.count("redis_error") == 300
    assert result.blocks == 300
    assert "econnrefused" not in result.matched  # a Redis outage is not a database ECONNREFUSED


def test_redis_flood_as_one_entry_per_physical_line() -> None:
    """Railway stores each stdout line separately: continuation lines still join their block."""
    entries = [line for _ in range(50) for line in _redis_block().splitlines()]
    result = scan(entries)
    assert result.count("redis_error") == 50
    assert result.blocks == 50
    assert "econnrefused" not in result.matched


def test_network_errors_are_kept_by_the_address_they_name() -> None:
    result = scan(["Error: connect ECONNREFUSED 10.0.0.7:5432", _redis_block(),
                   "Error: getaddrinfo ENOTFOUND redis.railway.internal", "connect ETIMEDOUT [fd12::1]:6379"])
    assert list(result.connection_errors) == ["10.0.0.7:5432", "127.0.0.1:6379", "redis.railway.internal",
                                              "[fd12::1]:6379"]
    db, redis_head, dns, v6 = result.connection_errors.values()
    assert (db.count, db.codes, db.said_redis, db.host, db.port) == (1, ("ECONNREFUSED",), False, "10.0.0.7", 5432)
    assert redis_head.said_redis and (redis_head.host, redis_head.port) == ("127.0.0.1", 6379)
    assert (dns.codes, dns.host, dns.port) == (("ENOTFOUND",), "redis.railway.internal", None)
    assert (v6.codes, v6.host, v6.port) == (("ETIMEDOUT",), "fd12::1", 6379)
    assert result.count("redis_error") == 1


def test_vercel_proxy_pretty_json_block_is_one_block() -> None:
    entries = ["[VERCEL-PROXY] GET /api/products", "{", '  "method": "GET",', '  "url": "/api/products"', "}",
               "[REQ] 2026-11-27T21:30:11.485Z GET /api/products"]
    assert len(blocks(entries)) == 2


def test_heap_exhaustion_stops_the_boot() -> None:
    result = scan(["[BOOT] Express app loaded - full routing active", "<--- Last few GCs --->",
                   "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"])
    assert result.count("heap_error") == 1 and result.count("fatal") == 1
    assert not result.boot_ok


def test_browser_errors() -> None:
    result = scan(["Error: Failed to launch the browser process!",
                   "ProtocolError: Protocol error (Target.createTarget): Target closed.",
                   "[REQ] 2026-11-27T21:30:11.485Z GET /api/browser-free"])
    assert result.count("browser_error") == 2


def test_secrets_in_lines_are_never_kept() -> None:
    """The backend prints the first 50 characters of a bad DATABASE_URL: a cut password stays hidden."""
    cut = "⚠️  WARNING: DATABASE_URL tiene formato inválido: postgresq://postgres:SuperSecretPassw"
    whole = "Error: P1000 at postgresql://postgres:OtherSecret99@db.example:5432/railway"
    result = scan([cut, whole], max_errors=5)
    texts = [hit.text for hit in (*result.last.values(), *result.errors)]
    assert texts and not any("SuperSecretPassw" in t or "OtherSecret99" in t for t in texts)
    assert "SuperSecretPassw" not in clean("redis://default:SuperSecretPassw")


def test_timestamps_and_span_from_log_lines() -> None:
    start = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    entries = [LogLine(start + timedelta(seconds=i), _redis_block(), "error") for i in range(16)]
    result = scan(entries)
    assert result.span_seconds("redis_error") == 15
    assert result.sample("redis_error").timestamp == start + timedelta(seconds=15)


def test_patterns_are_named_once() -> None:
    assert len(PATTERNS) == len(set(PATTERNS))
    assert scan([]).blocks == 0 and not scan([]).boot_ok


def test_blocks_with_counts_a_block_once() -> None:
    """The runbook's "ENCRYPTION_KEY validation failed" line also quotes "ERROR CRÍTICO DE SEGURIDAD"."""
    line = ("⚠️  Warning: ENCRYPTION_KEY validation failed: ERROR CRÍTICO DE SEGURIDAD: ENCRYPTION_KEY no válida")
    result = scan([line])
    assert result.count("encryption_key_validation_failed", "encryption_key_invalid") == 2
    assert result.blocks_with("encryption_key_validation_failed", "encryption_key_invalid") == 1


# ---- the real backend, booted on loopback (real-backend-observed.md) -------------------------------

# Patterns that name a failure (the others say something went right: listening, connected, validated).
FAILURE_PATTERNS = set(PATTERNS) - {"db_connected", "redis_connected", "encryption_key_ok", "encryption_key_from_jwt",
                                    "jwt_secret_ok", "listening", "app_loaded", "shutdown"}


def test_the_healthy_real_boot_matches_no_failure_pattern() -> None:
    result = scan(real.HEALTHY_BOOT)
    assert set(result.matched) & FAILURE_PATTERNS == set(), result.matched
    assert (result.error_count, result.connection_errors, result.own_traffic) == (0, {}, 0)
    assert result.listening and result.count("listening") == 3
    for line in real.HEALTHY_BOOT:  # one by one too: no line is a failure on its own
        assert set(scan([line]).matched) & FAILURE_PATTERNS == set(), line


@pytest.mark.parametrize(("line", "pattern"), [
    (real.DB_MISSING_AT_BOOT[0], "db_connect_retry"),
    (real.DB_MISSING_AT_BOOT[-1], "db_connect_failed"),
    (real.SHORT_SECRETS[0], "encryption_key_invalid"),
    (real.SHORT_SECRETS[2], "encryption_key_validation_failed"),
    (real.cors_blocked_line("https://evil.example.net"), "cors_rejected"),
])
def test_the_real_failure_lines_match(line: str, pattern: str) -> None:
    assert pattern in scan([line]).matched


def test_the_chromium_skip_line_is_not_a_browser_error_but_real_browser_failures_are() -> None:
    skip = next(line for line in real.HEALTHY_BOOT if "Chromium" in line)
    assert "browser_error" not in scan([skip]).matched
    for failure in ("Error: Failed to launch the browser process! /usr/bin/chromium: not found",
                    "ProtocolError: Protocol error (Target.createTarget): Target closed.",
                    "[PUPPETEER] Error: Navigation timeout of 30000 ms exceeded",
                    "Puppeteer launch failed: Could not find Chrome (ver. 121.0.6167.85)"):
        assert "browser_error" in scan([failure]).matched, failure


def test_the_bots_own_lines_are_dropped_and_a_users_are_kept() -> None:
    mine = real.own_probe_lines()  # the recorded lines: an older bot's "chatops-cli-…" id
    today = real.own_probe_lines(correlation_id("probe"), USER_AGENT)
    user = real.own_probe_lines("7d0e4b1a-2c3f-4e5d-8a9b-0c1d2e3f4a5b", "Mozilla/5.0")
    result = scan([*real.HEALTHY_BOOT, *mine, *today])
    assert (result.error_count, result.own_traffic) == (0, 4)
    assert result.blocks == len(blocks(real.HEALTHY_BOOT))
    counted = scan([*real.HEALTHY_BOOT, *user])
    assert (counted.error_count, counted.own_traffic) == (1, 0)
    assert "Authentication required" in counted.errors[0].text


def test_a_redis_outage_is_recorded_by_address_not_as_a_redis_or_database_pattern() -> None:
    result = scan([line for _ in range(40) for line in real.redis_refused_block()])
    assert result.blocks == 40 and list(result.connection_errors) == ["127.0.0.1:6390"]
    assert result.connection_errors["127.0.0.1:6390"].count == 40
    assert not {"redis_error", "p1001", "db_connect_failed"} & set(result.matched)
