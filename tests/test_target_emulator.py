"""The target emulator answers like the real backend (target-backend.md §2, §3, §7) and takes faults."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from sandbox.emulators.target import Gate, TargetEmulator
from sandbox.emulators.target_cors import build_allowlist, match_origin
from tests.conftest import eventually
from tests.probe_helpers import closed_port
from tests.shared import shared_path

pytest_plugins = ["tests.probe_fixtures"]

CORS_DEBUG_FIELDS = ("allowedOriginsParsed", "allowedHostNoWww", "envCorsOriginRaw", "envCorsOriginsRaw",
                     "envFrontendUrlRaw", "matchedRule", "receivedOrigin")


def _doc_example(after: str) -> dict:
    text = shared_path("reference/target-backend.md").read_text(encoding="utf-8")
    block = re.search(re.escape(after) + r"\s*```json\n(.*?)```", text, re.S)
    assert block, f"example after {after!r} not found in target-backend.md"
    return json.loads(block.group(1))


@pytest.mark.shared
async def test_cors_debug_matches_the_recorded_run(emu, raw):
    recorded = _doc_example("No Origin [run]:")
    body = (await raw.get(emu.url + "/api/cors-debug")).json()
    assert {k: body[k] for k in CORS_DEBUG_FIELDS} == {k: recorded[k] for k in CORS_DEBUG_FIELDS}
    assert set(body) == set(recorded)


@pytest.mark.shared
async def test_ready_and_version_bodies_have_the_recorded_keys(emu, raw):
    ready = await raw.get(emu.url + "/ready")
    assert set(ready.json()) == set(_doc_example("Ready (200) [run]:"))
    assert ready.json()["build"]["gitSha"] == "9f8e7d6"
    emu.set_state(db_down_at_boot=True)
    not_ready = await raw.get(emu.url + "/ready")
    recorded = _doc_example("Not ready (503) [run]. There is no `build` key:")
    assert not_ready.status_code == 503 and set(not_ready.json()) == set(recorded)
    version = (await raw.get(emu.url + "/version")).json()
    assert set(version) == set(_doc_example("**200** always:"))


async def test_liveness_endpoints_and_their_headers(emu, raw):
    health = await raw.get(emu.url + "/health", headers={"X-Correlation-ID": "probe-1"})
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "X-Powered-By" not in health.headers and "X-Correlation-ID" not in health.headers
    assert (await raw.get(emu.url + "/health/anything")).status_code == 200
    head = await raw.head(emu.url + "/health")
    assert head.status_code == 200 and head.content == b""
    api = await raw.get(emu.url + "/api/health", headers={"Origin": "https://www.example.org"})
    assert api.json()["status"] == "ok" and api.headers["X-Powered-By"] == "Express"
    assert not any(h.lower().startswith("access-control-") for h in api.headers)


async def test_correlation_ids(emu, raw):
    ready = await raw.get(emu.url + "/ready", headers={"X-Correlation-ID": "probe-1"})
    assert ready.headers["X-Correlation-Id"].startswith("ready-") and ready.headers["X-Health"] == "ok"
    version = await raw.get(emu.url + "/version", headers={"X-Correlation-ID": "probe-1"})
    assert version.headers["X-Correlation-ID"] == "probe-1"
    assert version.headers["X-App-Commit"] == "9f8e7d6" and version.headers["X-App-Node"] == "v20.20.2"


async def test_preflight_allowed_and_rejected(emu, raw):
    ok = await raw.options(emu.url + "/api/auth/login", headers={
        "Origin": "https://www.example.org", "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204 and ok.content == b""
    assert ok.headers["Access-Control-Allow-Origin"] == "https://www.example.org"
    assert ok.headers["Access-Control-Max-Age"] == "86400" and ok.headers["Vary"] == "Origin"
    bad = await raw.options(emu.url + "/api/auth/login", headers={
        "Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"})
    assert bad.status_code == 403 and bad.json() == {"error": "CORS policy: origin not allowed"}
    assert not any(h.lower().startswith("access-control-") for h in bad.headers)


async def test_disallowed_origin_makes_gets_answer_500(emu, raw):
    for path in ("/api/cors-debug", "/version", "/config"):
        r = await raw.get(emu.url + path, headers={"Origin": "https://evil.example.net"})
        assert r.status_code == 500, path
        assert r.json()["errorCode"] == "UNKNOWN_ERROR" and r.json()["correlationId"] == "unknown"
    assert (await raw.get(emu.url + "/version")).status_code == 200  # no Origin: always allowed


async def test_www_apex_match_returns_the_allowlist_entry(emu, raw):
    r = await raw.get(emu.url + "/api/cors-debug", headers={"Origin": "https://example.org"})
    body = r.json()
    assert (body["matchedRule"], body["matchedOrigin"]) == ("hostname-match", "https://www.example.org")
    assert r.headers["Access-Control-Allow-Origin"] == "https://www.example.org"
    assert body["access-control-allow-origin"] == "https://www.example.org"


@pytest.mark.parametrize("origin", ["https://preview-123.vercel.app", "http://localhost:9999", "http://127.0.0.1:1"])
async def test_dynamic_origins_are_allowed_in_production(emu, raw, origin):
    r = await raw.get(emu.url + "/version", headers={"Origin": origin})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == origin


def test_allowlist_rules():
    assert build_allowlist(cors_origins="https://b.com", cors_origin="https://a1.com,https://a2.com",
                           frontend_url="https://shop.example.io", production=True) == [
        "https://shop.example.io", "https://www.shop.example.io", "https://a2.com", "https://a1.com",
        "https://b.com", "https://www.ivanreseller.com", "https://ivanreseller.com"]
    # quotes, prefixes and trailing slash stripped, non-URLs dropped; items reversed, then deduplicated by
    # hostname with scheme and port ignored (first one wins)
    assert build_allowlist(cors_origins=None, cors_origin="'CORS_ORIGIN=https://a.com/', *, http://a.com:8443, x",
                           frontend_url=None, production=True) == [
        "http://a.com:8443", "https://www.ivanreseller.com", "https://ivanreseller.com"]
    assert build_allowlist(cors_origins=None, cors_origin="\"cors_origins=https://c.com/\"", frontend_url=None,
                           production=True)[0] == "https://c.com"
    dev = build_allowlist(cors_origins=None, cors_origin=None, frontend_url=None, production=False)
    assert "http://localhost:5173" in dev and "http://localhost:3000" not in dev  # same hostname collapses
    wildcard = build_allowlist(cors_origins=None, cors_origin="https://*.foo.com", frontend_url=None,
                               production=True)
    assert match_origin("https://x.foo.com", wildcard).rule == "none"
    assert match_origin("not a url", wildcard).rule == "invalid-origin"


async def test_http_origin_matching_only_by_domain_is_refused_on_get_in_production(raw):
    target = TargetEmulator(cors_origin="https://app.example.test")
    await target.start()
    try:
        pre = await target_options(raw, target.url, "http://app.example.test")
        get = await raw.get(target.url + "/version", headers={"Origin": "http://app.example.test"})
    finally:
        await target.stop()
    assert pre.status_code == 204 and get.status_code == 500


async def target_options(client: httpx.AsyncClient, url: str, origin: str) -> httpx.Response:
    return await client.options(url + "/api/products", headers={"Origin": origin,
                                                                 "Access-Control-Request-Method": "GET"})


async def test_loading_state(emu, raw):
    emu.set_state(loading=True)
    assert (await raw.get(emu.url + "/health")).status_code == 200
    for path in ("/api/health", "/ready", "/version", "/api/system/diagnostics"):
        r = await raw.get(emu.url + path)
        assert (r.status_code, r.json()) == (503, {"status": "loading"}), path


async def test_db_down_at_runtime_keeps_ready_200(emu, raw):
    emu.set_state(db_down_at_runtime=True)
    ready = await raw.get(emu.url + "/ready")
    assert ready.status_code == 200 and ready.json()["db"] is True
    assert (await raw.get(emu.url + "/api/system/diagnostics")).json()["database"] == "FAIL"


async def test_db_down_at_boot_and_safe_boot(emu, raw):
    emu.set_state(db_down_at_boot=True)
    r = await raw.get(emu.url + "/ready")
    assert r.status_code == 503 and r.headers["X-Health"] == "degraded" and "build" not in r.json()
    assert (await raw.get(emu.url + "/api/system/diagnostics")).json()["database"] == "OK"
    emu.set_state(db_down_at_boot=False, safe_boot=True)
    r = await raw.get(emu.url + "/ready")
    assert r.status_code == 503 and r.json()["safeBoot"] is True


async def test_overload_state(emu, raw):
    assert (await raw.get(emu.url + "/api/dashboard/stats")).status_code == 401
    emu.set_state(degraded_overload=True)
    r = await raw.get(emu.url + "/api/dashboard/stats")
    assert r.status_code == 200 and r.headers["X-Degraded"] == "true"
    assert r.headers["X-Overload-Reason"].startswith("event_loop_lag_")


async def test_detailed_endpoint_gone_or_runbook_era(emu, raw):
    gone = await raw.get(emu.url + "/api/system/health/detailed")
    assert (gone.status_code, gone.json()) == (404, {"success": False, "message": "Route not found"})
    old = TargetEmulator("runbook", detailed_auth="Bearer t0ken-abcdef")
    await old.start()
    try:
        anon = await raw.get(old.url + "/api/system/health/detailed")
        authed = await raw.get(old.url + "/api/system/health/detailed",
                                headers={"Authorization": "Bearer t0ken-abcdef"})
    finally:
        await old.stop()
    assert anon.status_code == 401
    assert authed.status_code == 200 and authed.json()["data"]["checks"]["db"] is True


async def test_faults_and_control_endpoint(emu, raw):
    r = await raw.post(emu.url + "/_control", json={"fault": {"path": "/version", "kind": "status", "code": 503}})
    assert r.status_code == 200 and r.json()["faults"]["/version"] == {"kind": "status", "code": 503}
    assert (await raw.get(emu.url + "/version")).status_code == 503
    r = await raw.post(emu.url + "/_control", json={"fault": {"path": "/version", "kind": "explode"}})
    assert r.status_code == 400 and "unknown fault" in r.json()["error"]
    await raw.post(emu.url + "/_control", json={"clear": None, "state": {"loading": True}})
    assert (await raw.get(emu.url + "/version")).status_code == 503
    await raw.post(emu.url + "/_control", json={"reset": True})
    assert (await raw.get(emu.url + "/version")).status_code == 200
    emu.set_fault("/config", "redirect_loop")
    loop = await raw.get(emu.url + "/config")
    assert loop.status_code == 302 and loop.headers["Location"] == "/config"
    emu.set_fault("/config", "not_json")
    assert (await raw.get(emu.url + "/config")).headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        emu.set_state(on_fire=True)


async def test_a_gate_holds_requests_until_n_have_arrived_even_across_emulators(emu, raw):
    other = TargetEmulator()
    await other.start()
    try:
        gate = Gate(3, paths=["/ready", "/version"])
        emu.set_gate(gate)
        other.set_gate(gate)
        assert (await raw.get(emu.url + "/health")).status_code == 200  # not a gated path
        first = asyncio.create_task(raw.get(emu.url + "/ready"))
        second = asyncio.create_task(raw.get(other.url + "/version"))
        await eventually(lambda: len(gate.arrived) == 2, timeout=30)  # both held: neither has an answer yet
        assert not first.done() and not second.done() and not gate.is_open
        third = await raw.get(other.url + "/ready", timeout=30)  # the third arrival opens the gate
        assert [r.status_code for r in (third, await first, await second)] == [200, 200, 200]
        assert gate.arrived == ["/ready", "/version", "/ready"]
        assert (await raw.get(emu.url + "/ready")).status_code == 200  # open for good
    finally:
        await other.stop()


async def test_a_gate_without_n_opens_when_told_and_a_stop_releases_it(raw):
    target = TargetEmulator()
    await target.start()
    r = await raw.post(target.url + "/_control", json={"gate": {"n": None}})
    assert r.json()["gate"] == {"n": None, "arrived": 0, "open": False}
    held = asyncio.create_task(raw.get(target.url + "/health", timeout=30))
    await eventually(lambda: target.gate.arrived, timeout=30)
    assert not held.done()
    await raw.post(target.url + "/_control", json={"open_gate": True})
    assert (await held).status_code == 200
    target.set_gate(Gate(None))
    stuck = asyncio.create_task(raw.get(target.url + "/version", timeout=30))
    await eventually(lambda: target.gate.arrived, timeout=30)
    await target.stop()
    assert (await stuck).status_code == 503


async def test_close_port_refuses_connections(emu, raw):
    await emu.close_port()
    with pytest.raises(httpx.ConnectError):
        await raw.get(emu.url + "/health")
    await emu.open_port()
    assert (await raw.get(emu.url + "/health")).status_code == 200
    with pytest.raises(httpx.ConnectError):
        await raw.get(f"http://127.0.0.1:{closed_port()}/health")
