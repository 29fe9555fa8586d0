"""``chatops health`` against the target emulator: JSON shape, table, exit codes 0/1/2."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import pytest

from bot.cli.health import register, run
from tests.probe_helpers import closed_port

pytest_plugins = ["tests.probe_fixtures"]
ROOT = Path(__file__).resolve().parents[1]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chatops")
    register(parser.add_subparsers(dest="verb", required=True))
    return parser.parse_args(["health", *argv])


@pytest.fixture
def services_file(tmp_path, monkeypatch, emu):
    path = tmp_path / "chatops.toml"
    path.write_text(f'''
[[services]]
name = "backend"
url = "{emu.url}"
profile = "ivan-reseller-web"

[[services]]
name = "old-runbook"
url = "{emu.url}"
''')
    monkeypatch.setenv("CHATOPS_CONFIG", str(path))
    monkeypatch.setenv("CHATOPS_LANGUAGE", "en")
    monkeypatch.delenv("CHATOPS_HEALTH_AUTH", raising=False)
    return path


async def test_json_shape_is_exact(services_file, capsys):
    code = await run(parse("backend", "--json", "--timeout", "1"))
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(out) == ["services"]
    [svc] = out["services"]
    assert list(svc) == ["name", "verdict", "reason", "elapsed_ms", "endpoints"]
    assert (svc["name"], svc["verdict"], svc["reason"]) == ("backend", "healthy", "healthy")
    assert isinstance(svc["elapsed_ms"], float)
    for e in svc["endpoints"]:
        assert list(e) == ["path", "status", "latency_ms", "verdict", "detail"]
        assert e["verdict"] in ("ok", "degraded", "down", "timeout", "unexpected", "missing", "skipped")
        if e["verdict"] == "skipped":  # needs auth, and CHATOPS_HEALTH_AUTH is not set: never requested
            assert (e["path"], e["status"], e["latency_ms"]) == ("/api/dashboard/stats", None, None)
            continue
        assert isinstance(e["status"], int) and isinstance(e["latency_ms"], float) and isinstance(e["detail"], str)


async def test_status_is_null_when_no_answer_came(services_file, capsys):
    code = await run(parse(f"http://127.0.0.1:{closed_port()}/health", "--json"))
    [svc] = json.loads(capsys.readouterr().out)["services"]
    assert code == 1 and svc["verdict"] == "down"
    assert svc["endpoints"][0]["status"] is None and svc["endpoints"][0]["latency_ms"] is not None


async def test_exit_code_1_when_any_service_is_degraded(emu, services_file, capsys):
    emu.set_state(db_down_at_runtime=True)
    code = await run(parse("--json", "--timeout", "1"))
    services = json.loads(capsys.readouterr().out)["services"]
    assert code == 1
    assert [(s["name"], s["verdict"]) for s in services] == [("backend", "down"), ("old-runbook", "down")]
    assert services[0]["reason"].startswith("db_down_now")


async def test_table_output(services_file, capsys):
    code = await run(parse("backend", "--lang", "es"))
    out = capsys.readouterr().out
    assert code == 0
    assert "backend: sano" in out and "ENDPOINT" in out and "ESTADO" in out
    assert "/api/system/diagnostics" in out and "\x1b[" not in out


async def test_any_url_from_the_terminal_with_runbook_profile_by_default(emu, services_file, capsys):
    code = await run(parse(emu.url.replace("127.0.0.1", "localhost"), "--json"))
    [svc] = json.loads(capsys.readouterr().out)["services"]
    assert code == 0 and svc["name"] == "localhost"
    paths = [e["path"] for e in svc["endpoints"]]
    assert "/api/system/health/detailed" in paths and "/api/dashboard/stats" not in paths  # runbook profile
    # /api/system/health/detailed needs auth: not requested from a bare URL; its replacement is.
    skipped = [e["path"] for e in svc["endpoints"] if e["verdict"] == "skipped"]
    assert skipped == ["/api/system/health/detailed"] and "/api/system/diagnostics" in paths
    assert svc["reason"] == "healthy_drift (/health)"  # it answers status "ok", the runbook promises "healthy"
    code = await run(parse(emu.url.replace("127.0.0.1", "localhost"), "--json", "--profile", "ivan-reseller-web"))
    [svc] = json.loads(capsys.readouterr().out)["services"]
    assert "/api/dashboard/stats" in [e["path"] for e in svc["endpoints"]]


@pytest.mark.parametrize("argv", [("nope",), (";rm -rf /",), ("backend", "--profile", "no-such-profile"),
                                  ("backend", "--timeout", "0")])
async def test_exit_code_2_for_usage_errors(services_file, capsys, argv):
    code = await run(parse(*argv))
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith("chatops: ") and len(captured.err.splitlines()) == 1


async def test_exit_code_2_for_a_broken_services_file(services_file, capsys):
    services_file.write_text("[[services]]\nname = 'x'\nurl = 'ftp://nope'\n")
    assert await run(parse()) == 2
    assert "ftp" not in capsys.readouterr().out


async def test_unknown_service_names_the_known_ones(services_file, capsys):
    await run(parse("frontend"))
    assert "backend, old-runbook" in capsys.readouterr().err


async def test_real_entry_point_in_a_subprocess(emu, services_file):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))",
        "health", "backend", "--json", "--timeout", "1", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["services"][0]["verdict"] == "healthy"
