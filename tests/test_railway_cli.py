"""``chatops railway deployments <service> [--json]`` against the Railway emulator."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import railway as railway_cli
from sandbox.emulators.railway import RailwayEmulator

REPO = Path(__file__).resolve().parents[1]
TOKEN = "cli-api-token-123456"
SERVICES = """
[[services]]
name = "api"
url = "https://api.example.com"

[services.railway]
project = "shop"
environment = "production"
service = "api"

[[services]]
name = "static"
url = "https://static.example.com"
"""


def world() -> dict:
    return {
        "tokens": {"api": [TOKEN]},
        "projects": [{"id": "p1", "name": "shop", "environments": [{"id": "e1", "name": "production"}],
                      "services": [{"id": "s1", "name": "api"}]}],
        "deployments": [
            {"id": "d-2", "service": "api", "status": "REMOVED", "createdAt": "now-2d",
             "meta": {"commitHash": "bbbbbbbbbbbb", "commitMessage": "second\n\nlong body", "branch": "main"}},
            {"id": "d-3", "service": "api", "status": "SUCCESS", "createdAt": "now-1h",
             "meta": {"commitHash": "cccccccccccc", "commitMessage": "third", "branch": "main"}},
            {"id": "d-1", "service": "api", "status": "FAILED", "createdAt": "now-3d",
             "meta": {"commitHash": "aaaaaaaaaaaa", "commitMessage": "first", "branch": "feature/x"}},
        ],
    }


@pytest.fixture
async def emulator() -> AsyncIterator[RailwayEmulator]:
    emu = RailwayEmulator(world())
    await emu.start()
    yield emu
    await emu.stop()


def configure(monkeypatch, tmp_path: Path, url: str, token: str | None = TOKEN, lang: str = "en") -> None:
    services = tmp_path / "chatops.toml"
    services.write_text(SERVICES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("CHATOPS_CONFIG", str(services))
    monkeypatch.setenv("RAILWAY_API_URL", url)
    monkeypatch.setenv("CHATOPS_LANGUAGE", lang)
    monkeypatch.delenv("RAILWAY_TOKEN", raising=False)
    if token:
        monkeypatch.setenv("RAILWAY_API_TOKEN", token)
    else:
        monkeypatch.delenv("RAILWAY_API_TOKEN", raising=False)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chatops")
    railway_cli.register(parser.add_subparsers(dest="verb", required=True))
    return parser.parse_args(["railway", "deployments", *argv])


async def test_json_lists_deployments_newest_first(emulator, monkeypatch, tmp_path, capsys):
    configure(monkeypatch, tmp_path, emulator.graphql_url)
    args = parse("api", "--json")
    assert await args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["deployments"]
    assert [d["id"] for d in out["deployments"]] == ["d-3", "d-2", "d-1"]
    first = out["deployments"][0]
    assert set(first) == {"id", "status", "created_at", "commit_hash", "commit_message", "can_rollback"}
    assert (first["status"], first["commit_hash"], first["commit_message"], first["can_rollback"]) == \
        ("SUCCESS", "cccccccccccc", "third", True)
    assert out["deployments"][2]["can_rollback"] is False
    stamps = [d["created_at"] for d in out["deployments"]]
    assert stamps == sorted(stamps, reverse=True) and stamps[0].endswith("Z")


@pytest.mark.parametrize(("lang", "heading", "created"), [("en", "Deployments of api", "CREATED"),
                                                           ("es", "Despliegues de api", "CREADO")])
async def test_table_uses_the_catalogue(emulator, monkeypatch, tmp_path, capsys, lang, heading, created):
    configure(monkeypatch, tmp_path, emulator.graphql_url, lang=lang)
    args = parse("api")
    assert await args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(heading)
    assert lines[1].startswith(created)
    assert [line.split()[3] for line in lines[2:]] == ["SUCCESS", "REMOVED", "FAILED"]
    assert "ccccccc" in lines[2] and "cccccccc" not in lines[2]
    assert lines[3].endswith("second")  # first line of the commit message only


async def test_usage_and_configuration_errors_exit_2(emulator, monkeypatch, tmp_path, capsys):
    configure(monkeypatch, tmp_path, emulator.graphql_url)
    for service, expected in (("nope", "Unknown service `nope`. Known services: api, static."),
                              ("static", "`static` has no [railway] section")):
        args = parse(service)
        assert await args.func(args) == 2
        assert expected in capsys.readouterr().err
    monkeypatch.setenv("CHATOPS_CONFIG", str(tmp_path / "missing.toml"))
    args = parse("api")
    assert await args.func(args) == 2
    assert "does not exist" in capsys.readouterr().err
    configure(monkeypatch, tmp_path, emulator.graphql_url, token=None)
    assert await args.func(args) == 2
    assert "No Railway token is set" in capsys.readouterr().err
    assert emulator.calls == []


async def test_railway_errors_exit_1_with_a_redacted_sentence(emulator, monkeypatch, tmp_path, capsys):
    configure(monkeypatch, tmp_path, emulator.graphql_url, token="wrong-token-abcdef")
    args = parse("api", "--json")
    assert await args.func(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Not Authorized" in captured.err and "RAILWAY_API_TOKEN" in captured.err
    assert "wrong-token-abcdef" not in captured.err


def test_against_the_standalone_emulator(monkeypatch, tmp_path, capsys):
    """``python -m sandbox.emulators.railway`` prints its URL; the verb reads from it."""
    world_file = tmp_path / "world.json"
    world_file.write_text(json.dumps(world()), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.emulators.railway", "--world", str(world_file)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/graphql/v2")
        configure(monkeypatch, tmp_path, url)
        args = parse("api", "--json")
        assert asyncio.run(args.func(args)) == 0
        assert [d["id"] for d in json.loads(capsys.readouterr().out)["deployments"]] == ["d-3", "d-2", "d-1"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
