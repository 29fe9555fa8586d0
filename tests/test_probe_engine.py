"""The probe engine against the target emulator over real loopback HTTP: every verdict and failure class."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import ssl
import subprocess
import time
import tracemalloc

import pytest

from bot.common.identity import USER_AGENT
from bot.probe.models import ENDPOINT_VERDICTS
from sandbox.emulators.target import Gate, TargetEmulator
from tests.conftest import eventually
from tests.probe_helpers import by_path, closed_port, prober, service

pytest_plugins = ["tests.probe_fixtures"]

JWT = "s3cr3t-jwt-value-0123456789abcdef0123"


async def test_healthy_backend_every_endpoint_ok(emu, http):
    report = await prober(http).probe_service(service(emu.url))
    assert report.verdict == "healthy", report.reason_line
    assert report.reason == "healthy" and report.next_step is None and report.drift == []
    assert {e.path: e.verdict for e in report.endpoints if e.verdict != "ok"} == {"/api/dashboard/stats": "skipped"}
    assert [e.path for e in report.endpoints] == [
        "/health", "/api/health", "/ready", "/ready/", "/api/system/health/detailed", "/api/system/diagnostics",
        "/api/cors-debug", "/config", "/version", "/api/dashboard/stats"]
    assert report.version == "9f8e7d6" and report.build_time and report.uptime_s is not None
    ready = by_path(report, "/ready")
    assert ready.status == 200 and ready.fields["db"] is True and ready.latency_ms > 0
    assert by_path(report, "/api/system/diagnostics").fields["database"] == "OK"
    assert emu.requests_to("/api/dashboard/stats") == []


async def test_an_endpoint_that_needs_auth_is_requested_only_with_chatops_health_auth(emu, http):
    report = await prober(http).probe_service(service(emu.url))
    skipped = by_path(report, "/api/dashboard/stats")
    assert (skipped.verdict, skipped.status, skipped.latency_ms) == ("skipped", None, None)
    assert report.reason_args["skipped"] == 1 and report.reason_args["n"] == len(report.endpoints) - 1
    assert emu.requests_to("/api/dashboard/stats") == []
    authed = await prober(http, auth_header="Bearer t0ken-for-the-probe").probe_service(service(emu.url))
    assert by_path(authed, "/api/dashboard/stats").status == 401
    [request] = emu.requests_to("/api/dashboard/stats")
    assert request.headers["Authorization"] == "Bearer t0ken-for-the-probe"


async def test_requests_carry_one_correlation_id_and_no_origin(emu, http):
    report = await prober(http).probe_service(service(emu.url))
    seen = list(emu.requests)
    assert len(seen) == len([e for e in report.endpoints if e.verdict != "skipped"])
    assert {r.headers.get("X-Correlation-ID") for r in seen} == {report.correlation_id}
    assert report.correlation_id.startswith("chatops-probe-")
    assert {r.headers.get("User-Agent") for r in seen} == {USER_AGENT}
    assert not any("Origin" in r.headers for r in seen)


async def _requested(emu, http) -> int:
    """How many requests one report of a healthy backend makes (skipped endpoints are not requested)."""
    report = await prober(http, endpoint_timeout=30, total_timeout=30).probe_service(service(emu.url))
    assert report.verdict == "healthy", report.reason_line
    emu.requests.clear()
    return len([e for e in report.endpoints if e.verdict != "skipped"])


async def test_endpoints_are_probed_concurrently(emu, http):
    """No request is answered until every one of them has arrived: a prober that sent them one after
    another (or a few at a time) would wait at the gate until its own timeout, and report timeouts."""
    n = await _requested(emu, http)
    emu.set_gate(Gate(n))
    report = await prober(http, endpoint_timeout=30, total_timeout=30).probe_service(service(emu.url))
    assert report.verdict == "healthy", report.reason_line
    assert len(emu.gate.arrived) == n and emu.gate.is_open


async def test_dns_failure(http):
    report = await prober(http).probe_url("http://nonexistent.invalid/health")
    e = report.endpoints[0]
    assert (report.verdict, e.verdict, e.failure, e.status) == ("down", "down", "dns", None)
    assert report.reason == "liveness_down"


async def test_connection_refused_closed_port(http):
    report = await prober(http).probe_service(service(f"http://127.0.0.1:{closed_port()}"))
    assert report.verdict == "down" and report.reason == "liveness_down"
    assert {e.failure for e in report.endpoints if e.verdict != "skipped"} == {"refused"}
    assert report.reason_args["failure"] == "refused"


async def test_emulator_port_closed_then_reopened(emu, http):
    await emu.close_port()
    down = await prober(http).probe_service(service(emu.url))
    assert down.verdict == "down" and by_path(down, "/health").failure == "refused"
    await emu.open_port()
    assert (await prober(http).probe_service(service(emu.url))).verdict == "healthy"


async def test_connection_closed_without_answer(emu, http):
    emu.set_fault("/api/health", "refused")
    report = await prober(http).probe_service(service(emu.url))
    e = by_path(report, "/api/health")
    assert (e.verdict, e.failure) == ("down", "closed")
    assert report.verdict == "down"


async def test_tls_error_https_to_plain_http_port(emu, http):
    report = await prober(http).probe_url(emu.url.replace("http://", "https://") + "/health")
    e = report.endpoints[0]
    assert (e.verdict, e.failure) == ("down", "tls")
    assert "TLS" in e.detail


@pytest.fixture
def self_signed(tmp_path) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def test_tls_error_self_signed_certificate(self_signed, http):
    target = TargetEmulator(ssl_context=self_signed)
    url = await target.start()
    try:
        assert url.startswith("https://")
        report = await prober(http).probe_url(url + "/health")
    finally:
        await target.stop()
    e = report.endpoints[0]
    assert (e.verdict, e.failure) == ("down", "tls")
    assert "certificate" in e.detail


async def test_hung_endpoint_times_out_at_its_limit_without_delaying_others(emu, http):
    """Every request, the hung one included, is in flight at once (the gate opens only when all have
    arrived); the others are answered while /ready hangs, which is then cut at its own limit, not at
    the report's much later bound."""
    n = await _requested(emu, http)
    emu.set_gate(Gate(n))
    emu.set_fault("/ready", "hang")
    report = await prober(http, endpoint_timeout=2, total_timeout=30).probe_service(service(emu.url))
    assert emu.gate.is_open
    ready = by_path(report, "/ready")
    assert (ready.verdict, ready.failure, ready.status) == ("timeout", "timeout", None)
    assert ready.latency_ms >= 1900 and ready.detail == "no answer within 2 s"  # its limit, not "(report bound)"
    others = [e for e in report.endpoints if e.path != "/ready" and e.verdict != "skipped"]
    assert len(others) == n - 1
    assert all(e.verdict == "ok" and e.latency_ms < ready.latency_ms for e in others), others
    assert report.verdict == "degraded" and report.reason == "endpoint_failed" and report.next_step == "db"


async def test_whole_report_is_bounded(emu, http):
    emu.set_fault("/version", "hang")
    emu.set_fault("/config", "slow", ms=60_000)
    start = time.perf_counter()
    report = await prober(http, endpoint_timeout=60, total_timeout=2).probe_service(service(emu.url))
    wall = time.perf_counter() - start
    for path in ("/version", "/config"):
        e = by_path(report, path)
        assert (e.verdict, e.detail) == ("timeout", "no answer within 2 s (report bound)")
    assert by_path(report, "/health").verdict == "ok"
    assert report.elapsed_ms >= 2000
    # Without the bound the report would last the 60 s of the hang and of the slow answer (their own
    # limit is 60 s too); a bound of 2 s is 15 times below this assertion, a margin no load closes.
    assert wall < 30


async def test_liveness_timeout_means_down(emu, http):
    emu.set_fault("/health", "hang")
    report = await prober(http, endpoint_timeout=0.3).probe_service(service(emu.url))
    assert report.verdict == "down" and report.reason_args["failure"] == "timeout"


@pytest.mark.parametrize("kind", ["huge_body", "gzip_bomb"])
async def test_body_over_cap_is_cut_short_in_time_and_memory(emu, http, kind):
    size = 100_000_000
    emu.set_fault("/version", kind, size=size)
    p = prober(http, endpoint_timeout=30, total_timeout=30, body_cap=1_000_000)
    await p.probe_url(emu.url + "/health")  # warm up the pool outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        report = await p.probe_url(emu.url + "/version", "ivan-reseller-web")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    e = report.endpoints[0]
    assert (e.verdict, e.failure, e.status) == ("unexpected", "too_large", 200)
    assert peak < 12_000_000, f"{kind}: {peak} bytes held while reading a capped body"
    if kind == "huge_body":  # the probe hung up past the cap: most of the body was never sent
        sent = await eventually(lambda: emu.streamed.get("/version"), timeout=30)
        assert sent < size // 10, f"{sent} of {size} bytes sent before the probe hung up"


async def test_redirect_loop(emu, http):
    emu.set_fault("/config", "redirect_loop")
    e = by_path(await prober(http).probe_service(service(emu.url)), "/config")
    assert (e.verdict, e.failure, e.status) == ("unexpected", "redirect_loop", 302)


async def test_redirect_to_another_host_is_not_followed(emu, http):
    emu.set_fault("/config", "redirect", location="http://169.254.169.254/latest/meta-data/")
    report = await prober(http).probe_service(service(emu.url))
    e = by_path(report, "/config")
    assert (e.verdict, e.failure) == ("unexpected", "redirect_offsite")
    assert "169.254.169.254" in e.detail and report.verdict == "degraded"


async def test_same_origin_redirect_is_followed(emu, http):
    emu.set_fault("/version", "redirect", location="/api/version")
    e = by_path(await prober(http).probe_service(service(emu.url)), "/version")
    assert e.verdict == "ok" and e.fields["gitSha"] == "9f8e7d6"
    assert emu.requests_to("/api/version")


async def test_not_json_and_wrong_shape_are_unexpected_drift(emu, http):
    emu.set_fault("/version", "not_json")
    emu.set_fault("/config", "wrong_shape")
    report = await prober(http).probe_service(service(emu.url))
    version, config = by_path(report, "/version"), by_path(report, "/config")
    assert (version.verdict, version.failure) == ("unexpected", "not_json")
    assert "Application Error" in version.detail
    assert (config.verdict, config.failure) == ("unexpected", "shape_changed")
    assert "missing key" in config.detail
    assert {d.path for d in report.drift} == {"/version", "/config"}
    assert report.verdict == "degraded" and report.reason == "drift"


async def test_runbook_profile_404_is_missing_drift_with_live_replacement(emu, http):
    report = await prober(http, auth_header="Bearer ops-token-123456").probe_service(service(emu.url, "runbook"))
    detailed = by_path(report, "/api/system/health/detailed")
    assert (detailed.verdict, detailed.status, detailed.failure) == ("missing", 404, "http_4xx")
    assert by_path(report, "/api/system/diagnostics").verdict == "ok"
    [drift] = [d for d in report.drift if d.verdict != "promise"]
    assert (drift.path, drift.replaced_by, drift.replacement_ok) == (
        "/api/system/health/detailed", "/api/system/diagnostics", True)
    assert str(drift) == "/api/system/health/detailed → 404; /api/system/diagnostics → 200"
    assert report.verdict == "healthy" and report.reason == "healthy_drift"


async def test_runbook_promises_the_real_backend_does_not_keep_are_drift_not_failures(emu, http):
    """/health answers status "ok" where the runbook promises "healthy"; /api/health, "liveness with
    CORS" in the runbook, sends no CORS headers even to an allowed origin."""
    svc = service(emu.url, "runbook", frontend_origins=["https://www.example.org"])
    report = await prober(http).probe_service(svc)
    promises = {(d.path, d.field, d.seen, d.promised, d.origin) for d in report.drift if d.verdict == "promise"}
    assert promises == {("/health", "status", "ok", "healthy", None),
                        ("/api/health", None, None, None, "https://www.example.org")}
    cors = by_path(report, "/api/health", "https://www.example.org")
    assert (cors.verdict, cors.detail) == ("ok", "Origin https://www.example.org: no CORS headers")
    assert (report.verdict, report.reason) == ("healthy", "healthy_drift")
    # The same origin is allowed by the app: the CORS layer answers it on the routes behind it.
    assert by_path(report, "/api/cors-debug", "https://www.example.org").verdict == "ok"
    real_profile = await prober(http).probe_service(service(emu.url, frontend_origins=["https://www.example.org"]))
    assert [d for d in real_profile.drift if d.verdict == "promise"] == []


async def test_runbook_profile_replacement_sees_runtime_db_outage(emu, http):
    emu.set_state(db_down_at_runtime=True)
    report = await prober(http, auth_header="Bearer ops-token-123456").probe_service(service(emu.url, "runbook"))
    assert report.drift[0].replacement_ok is False
    assert (report.verdict, report.reason, report.next_step) == ("down", "db_down_now", "db")
    assert (report.reason_args["ready_path"], report.reason_args["ready_status"]) == ("/ready", 200)


async def test_without_auth_the_runbook_detailed_endpoint_is_skipped_and_its_replacement_probed(emu, http):
    emu.set_state(db_down_at_runtime=True)
    report = await prober(http).probe_service(service(emu.url, "runbook"))
    assert by_path(report, "/api/system/health/detailed").verdict == "skipped"
    assert emu.requests_to("/api/system/health/detailed") == []
    assert by_path(report, "/api/system/diagnostics").fields["database"] == "FAIL"
    assert (report.verdict, report.reason) == ("down", "db_down_now")
    assert [d.verdict for d in report.drift] == ["promise"]  # /health says "ok", the runbook "healthy"


async def test_same_404_is_expected_in_the_real_backend_profile(emu, http):
    report = await prober(http).probe_service(service(emu.url))
    assert by_path(report, "/api/system/health/detailed").verdict == "ok"
    assert report.drift == []


async def test_runbook_era_detailed_endpoint_with_auth_header(http):
    target = TargetEmulator("runbook", detailed_auth="Bearer ops-token-123456")
    await target.start()
    try:
        ok = await prober(http, auth_header="Bearer ops-token-123456").probe_service(service(target.url, "runbook"))
        refused = await prober(http, auth_header="Bearer wrong-token-0000").probe_service(
            service(target.url, "runbook"))
        target.set_state(db_down_at_runtime=True)
        db = await prober(http, auth_header="Bearer ops-token-123456").probe_service(service(target.url, "runbook"))
        adhoc_requests_before = len(target.requests)
        adhoc = await prober(http, auth_header="Bearer ops-token-123456").probe_url(
            target.url + "/api/system/health/detailed", "runbook")
    finally:
        await target.stop()
    assert ok.verdict == "healthy" and [(d.path, d.verdict) for d in ok.drift] == [("/health", "promise")]
    e = by_path(refused, "/api/system/health/detailed")
    assert (e.status, e.verdict, e.failure) == (401, "degraded", "http_4xx")
    assert (db.reason, db.next_step) == ("db_down_now", "db")
    # A URL that is not a configured service never receives the operator's auth header, so an
    # endpoint that needs it is not requested at all.
    assert adhoc.endpoints[0].verdict == "skipped"
    after = list(target.requests)[adhoc_requests_before:]
    assert all("Authorization" not in r.headers and r.path != "/api/system/health/detailed" for r in after)


async def test_loading_state_is_not_reported_as_down(emu, http):
    emu.set_state(loading=True)
    report = await prober(http).probe_service(service(emu.url))
    assert by_path(report, "/health").verdict == "ok"
    assert by_path(report, "/api/health").detail == "HTTP 503 status=loading"
    assert (report.verdict, report.reason) == ("degraded", "loading")


async def test_db_down_at_boot_needs_restart(emu, http):
    emu.set_state(db_down_at_boot=True)
    report = await prober(http).probe_service(service(emu.url))
    ready = by_path(report, "/ready")
    assert (ready.status, ready.verdict, ready.reason) == (503, "down", "db_down_at_boot")
    assert (report.verdict, report.reason, report.next_step) == ("down", "db_down_at_boot", "db")


async def test_db_down_at_runtime_seen_even_though_ready_says_200(emu, http):
    emu.set_state(db_down_at_runtime=True)
    report = await prober(http).probe_service(service(emu.url))
    assert by_path(report, "/ready").verdict == "ok"
    assert by_path(report, "/api/system/diagnostics").detail == "database=FAIL"
    assert (report.verdict, report.reason, report.next_step) == ("down", "db_down_now", "db")
    assert report.reason_line == "db_down_now (/api/system/diagnostics: database=FAIL)"


async def test_safe_boot(emu, http):
    emu.set_state(safe_boot=True)
    report = await prober(http).probe_service(service(emu.url))
    assert (report.reason, report.next_step) == ("safe_boot", None)


async def test_overload_header_is_degraded_with_memory_next_step(emu, http):
    emu.set_state(degraded_overload=True)
    report = await prober(http, auth_header="Bearer t0ken-for-the-probe").probe_service(service(emu.url))
    e = by_path(report, "/api/dashboard/stats")
    assert e.verdict == "degraded" and "X-Degraded=true" in e.detail and "event_loop_lag" in e.detail
    assert (report.reason, report.next_step) == ("overload", "memory")


async def test_cors_origin_checks(emu, http):
    svc = service(emu.url, frontend_origins=["https://www.example.org", "https://example.org",
                                             "https://evil.example.net"])
    report = await prober(http).probe_service(svc)
    allowed = by_path(report, "/api/cors-debug", "https://www.example.org")
    mismatch = by_path(report, "/api/cors-debug", "https://example.org")
    rejected = by_path(report, "/api/cors-debug", "https://evil.example.net")
    assert allowed.verdict == "ok" and allowed.fields["matchedRule"] == "exact-match"
    assert (mismatch.verdict, mismatch.reason) == ("degraded", "cors_mismatch")
    assert mismatch.fields["allowOrigin"] == "https://www.example.org"
    assert (rejected.status, rejected.verdict, rejected.reason) == (500, "degraded", "cors_rejected")
    assert (report.reason, report.reason_args["origin"], report.next_step) == (
        "cors_rejected", "https://evil.example.net", "cors")
    sent = {r.headers.get("Origin") for r in emu.requests_to("/api/cors-debug")}
    assert sent == {None, "https://www.example.org", "https://example.org", "https://evil.example.net"}


async def test_server_error_on_liveness_is_down(emu, http):
    emu.set_fault("/api/health", "status", code=502)
    report = await prober(http).probe_service(service(emu.url))
    e = by_path(report, "/api/health")
    assert (e.status, e.verdict, e.failure) == (502, "down", "http_5xx")
    assert report.verdict == "down"


async def test_secrets_in_bodies_are_redacted(emu, http):
    emu.set_fault("/config", "body", json={
        "env": "production", "hasDbUrl": True, "hasRedisUrl": True, "corsOriginCount": 1,
        "databaseHost": "postgres://admin:hunter2-db-pass@db.internal:5432/app", "redisHost": "x"})
    emu.set_fault("/version", "body", text=f"crashed: JWT_SECRET={JWT} token xoxb-1234567890-abcdef")
    report = await prober(http).probe_service(service(emu.url))
    dumped = json.dumps(report.to_json()) + repr(report)
    for secret in ("hunter2-db-pass", JWT, "xoxb-1234567890-abcdef"):
        assert secret not in dumped
    assert "[redacted]" in by_path(report, "/config").fields["databaseHost"]
    assert "JWT_SECRET=[redacted]" in by_path(report, "/version").detail


async def test_probe_all_runs_services_concurrently(http):
    targets = [TargetEmulator() for _ in range(3)]
    try:
        urls = [await t.start() for t in targets]
        # One gate for the three: no service's /health is answered until all three have been asked.
        gate = Gate(3, paths=["/health"])
        for t in targets:
            t.set_gate(gate)
        targets[1].set_state(db_down_at_runtime=True)
        reports = await prober(http, endpoint_timeout=30, total_timeout=30).probe_all(
            [service(u, name=f"svc{i}") for i, u in enumerate(urls)])
    finally:
        for t in targets:
            await t.stop()
    assert [r.name for r in reports] == ["svc0", "svc1", "svc2"]
    assert [r.verdict for r in reports] == ["healthy", "down", "healthy"]
    assert gate.is_open and len(gate.arrived) == 3


async def test_single_path_of_a_service(emu, http):
    report = await prober(http).probe_service(service(emu.url), "/ready")
    assert [e.path for e in report.endpoints] == ["/ready"] and report.verdict == "healthy"
    unknown = await prober(http).probe_service(service(emu.url), "/nope")
    assert (unknown.endpoints[0].verdict, unknown.verdict) == ("missing", "degraded")


async def test_every_endpoint_verdict_is_reachable(emu, http):
    """One run per verdict class, so the table of verdicts cannot silently lose one."""
    emu.set_fault("/api/system/diagnostics", "hang")
    emu.set_fault("/version", "wrong_shape")
    emu.set_state(db_down_at_boot=True, degraded_overload=True)
    authed = prober(http, endpoint_timeout=0.3, auth_header="Bearer ops-token-123456")
    report = await authed.probe_service(service(emu.url, "runbook"))
    seen = {e.verdict for e in report.endpoints}
    report2 = await authed.probe_service(service(emu.url))
    seen |= {e.verdict for e in report2.endpoints}
    report3 = await prober(http, endpoint_timeout=0.3).probe_service(service(emu.url))
    seen |= {e.verdict for e in report3.endpoints}
    assert seen == set(ENDPOINT_VERDICTS), seen


async def test_cancelled_probe_leaves_no_task_behind(emu, http):
    emu.set_fault("/ready", "hang")
    task = asyncio.create_task(prober(http, endpoint_timeout=60, total_timeout=60).probe_service(service(emu.url)))
    await eventually(lambda: emu.requests_to("/ready"), timeout=30)  # cancelled while a request hangs
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    def pending() -> list[asyncio.Task]:
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and "_endpoint" in repr(t)]

    # The endpoints' tasks end once their cancellation is handled (the hang would hold them to their 60 s limit).
    await eventually(lambda: not pending(), timeout=30)
