"""``chatops diagnose``: the exact JSON shape, the text output and the exit codes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import jsonschema
import pytest

from bot.cli import diagnose
from tests.playbook_env import JWT, KEY, PG_PASSWORD, REDIS_PASSWORD, environment

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["findings"],
    "properties": {"findings": {"type": "array", "items": {
        "type": "object", "additionalProperties": False,
        "required": ["playbook", "verdict", "cause", "evidence", "remediation"],
        "properties": {
            "playbook": {"enum": ["db", "redis", "cors", "jwt", "memory"]},
            "verdict": {"enum": ["ok", "problem", "unknown"]},
            "cause": {"type": "string", "minLength": 1},
            "evidence": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["check", "observed", "ok"],
                "properties": {"check": {"type": "string", "minLength": 1}, "observed": {"type": "string"},
                               "ok": {"type": ["boolean", "null"]}}}},
            "remediation": {"type": "array", "items": {"type": "string", "minLength": 1}}}}}},
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatops")
    diagnose.register(parser.add_subparsers(dest="verb", required=True))
    return parser


async def _run(*argv: str) -> int:
    args = _parser().parse_args(["diagnose", *argv])
    return await args.func(args)


def _configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env, *, token: bool = True) -> Path:
    path = tmp_path / "chatops.toml"
    path.write_text(env.toml)
    monkeypatch.setenv("CHATOPS_CONFIG", str(path))
    monkeypatch.setenv("RAILWAY_API_URL", env.railway.graphql_url)
    for name in ("RAILWAY_TOKEN", "RAILWAY_API_TOKEN", "CHATOPS_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    if token:
        monkeypatch.setenv("RAILWAY_API_TOKEN", "test-api-token")
    return path


async def test_json_shape_and_exit_0_when_everything_is_ok(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        _configure(monkeypatch, tmp_path, env)
        monkeypatch.setenv("CHATOPS_LANGUAGE", "es")  # JSON stays English unless --lang says otherwise
        code = await _run("all", "backend", "--json", "--timeout", "8")
    out = capsys.readouterr().out
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert [f["playbook"] for f in document["findings"]] == ["db", "redis", "cors", "jwt", "memory"]
    assert code == 0, [(f["playbook"], f["cause"]) for f in document["findings"] if f["verdict"] != "ok"]
    assert document["findings"][0]["cause"].startswith("No database problem found")
    for secret in (PG_PASSWORD, JWT, KEY, REDIS_PASSWORD):
        assert secret not in out


async def test_exit_1_on_a_problem_and_one_playbook_only(monkeypatch, tmp_path, capsys) -> None:
    async with environment(origins=["https://app.shop.test"]) as env:
        _configure(monkeypatch, tmp_path, env)
        code = await _run("cors", "backend", "--json")
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    assert code == 1
    assert [(f["playbook"], f["verdict"]) for f in document["findings"]] == [("cors", "problem")]


async def test_text_in_spanish(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        _configure(monkeypatch, tmp_path, env)
        env.set_variables(JWT_SECRET="Zq7-short")
        code = await _run("jwt", "backend", "--lang", "es")
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("Diagnóstico de backend\n")
    assert "🔴 JWT / clave de encriptación (jwt): problema" in out
    assert "Qué hacer:" in out and "1. Generar nuevo secret" in out
    assert "\x1b[" not in out  # no colour when stdout is not a terminal
    assert "Zq7-short" not in out and "9 caracteres (mínimo 32)" in out  # the length, never the value


async def test_without_a_railway_token_the_railway_evidence_is_not_checked(monkeypatch, tmp_path, capsys) -> None:
    async with environment() as env:
        _configure(monkeypatch, tmp_path, env, token=False)
        code = await _run("all", "backend", "--json")
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    assert code == 1
    verdicts = {f["playbook"]: f["verdict"] for f in document["findings"]}
    assert verdicts["jwt"] == "unknown" and verdicts["memory"] == "unknown"
    assert verdicts["cors"] == "ok"  # the live checks alone decide
    unchecked = [e for f in document["findings"] for e in f["evidence"] if e["ok"] is None]
    assert unchecked and any("no Railway API credential" in e["observed"] for e in unchecked)


@pytest.mark.parametrize(("argv", "message"), [
    (("weather", "backend"), "Unknown playbook `weather`. Playbooks: db, redis, cors, jwt, memory, or all."),
    (("db", "frontend"), "Unknown service `frontend`. Known services: backend."),
    (("db", "backend", "--timeout", "0"), "--timeout must be more than 0"),
])
async def test_usage_errors_exit_2(monkeypatch, tmp_path, capsys, argv, message) -> None:
    async with environment() as env:
        _configure(monkeypatch, tmp_path, env)
        code = await _run(*argv)
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err and captured.out == ""


async def test_missing_services_file_exits_2(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("CHATOPS_CONFIG", str(tmp_path / "nope.toml"))
    code = await _run("all", "backend")
    assert code == 2
    assert "the services file does not exist" in capsys.readouterr().err


async def test_end_to_end_through_the_chatops_entry_point(monkeypatch, tmp_path) -> None:
    """The real ``chatops`` entry point in a child process, against the emulators over HTTP."""
    async with environment(origins=["https://app.shop.test"]) as env:
        _configure(monkeypatch, tmp_path, env)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", "diagnose", "cors",
            "backend", "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1, err.decode()
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert document["findings"][0]["verdict"] == "problem"
    assert "https://app.shop.test" in document["findings"][0]["cause"]
