"""The deploy files agree with the code: railway.json (Railpack) and the Procfile run real commands, the health
check is the bot's own route, Railpack installs the same dependencies as pyproject.toml on a Python the
project supports, and a redeploy leaves the bot the time its shutdown takes."""

from __future__ import annotations

import inspect
import json
import re
import shlex
import tomllib
from pathlib import Path

from bot.cli import build_parser
from bot.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
RAILWAY = json.loads((ROOT / "railway.json").read_text(encoding="utf-8"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _parses(command: str) -> str:
    """The verb a deploy command runs, after the real CLI parser accepted it ($PORT as Railway sets it)."""
    argv = shlex.split(command.replace("$PORT", "8080"))
    assert argv[0] == "chatops", command
    return build_parser().parse_args(argv[1:]).verb


def test_railway_builds_with_railpack_and_installs_the_bot_into_railpacks_virtualenv():
    assert RAILWAY["build"]["builder"] == "RAILPACK"
    # Railpack installs requirements.txt into /app/.venv (on PATH for the build step); the bot goes there too.
    assert RAILWAY["build"]["buildCommand"] == "pip install --no-deps ."


def test_railway_migrates_before_deploying_starts_the_server_and_checks_its_health():
    deploy = RAILWAY["deploy"]
    assert _parses(deploy["preDeployCommand"]) == "migrate"
    assert _parses(deploy["startCommand"]) == "serve"
    assert "--port $PORT" in deploy["startCommand"]
    assert deploy["healthcheckPath"] == "/health"


def test_a_redeploy_waits_for_the_bots_shutdown():
    grace = inspect.signature(Runtime.close).parameters["grace_seconds"].default
    assert RAILWAY["deploy"]["drainingSeconds"] > grace  # SIGTERM → SIGKILL only after the follow-ups finish


def test_the_procfile_says_the_same():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
                 if line.strip())
    assert lines == {"release": RAILWAY["deploy"]["preDeployCommand"], "web": RAILWAY["deploy"]["startCommand"]}


def test_railpack_installs_the_dependencies_pyproject_declares():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert requirements == PYPROJECT["project"]["dependencies"]


def test_railpack_gets_a_python_the_project_supports():
    pinned = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"3\.\d+", pinned), pinned  # a minor version: Railpack takes its newest patch
    floor = re.fullmatch(r">=3\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert floor, "requires-python is no longer a plain floor: compare it here another way"
    assert int(pinned.split(".")[1]) >= max(int(floor[1]), 10)  # Railpack supports Python 3.10 and later
