"""The CLI starts at once: a verb loads only what it uses.

Not a timing test (bench/cli_startup.py has the times): it checks which libraries each command
line imports, in a fresh interpreter, which is what the start-up time follows from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.probe_helpers import closed_port

ROOT = Path(__file__).resolve().parents[1]
# What ``chatops --help`` used to import from every verb: seconds on this machine.
HEAVY = ("slack_bolt", "slack_sdk", "sqlalchemy", "alembic", "asyncpg", "aiohttp", "httpx", "pydantic",
         "graphql", "prometheus_client", "playbooks", "handlers", "bot.main", "bot.runtime",
         "bot.store", "bot.slack", "bot.probe", "sandbox.demo", "sandbox.runner", "sandbox.emulators")
# What probing one URL from the terminal needs no part of: the Slack app, the database, the demo
# (``sandbox.cli`` itself is loaded: it registers ``demo`` through the ``chatops.verbs`` entry point),
# aiohttp (one service's requests go through httpx's own pool).
NOT_FOR_HEALTH = ("slack_bolt", "slack_sdk", "sqlalchemy", "alembic", "asyncpg", "aiohttp", "playbooks", "handlers",
                  "bot.main", "bot.runtime", "bot.store", "sandbox.demo", "sandbox.runner", "sandbox.emulators")

_RUN_AND_LIST_MODULES = """
import json, sys
from bot.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def _loaded(tmp_path: Path, *argv: str) -> tuple[int, list[str]]:
    report = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", _RUN_AND_LIST_MODULES, str(report), *argv], cwd=ROOT, check=True,
                   capture_output=True, timeout=60)
    found = json.loads(report.read_text())
    return found["code"], found["modules"]


def _of(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return sorted({p for p in packages for m in modules if m == p or m.startswith(p + ".")})


@pytest.mark.parametrize("argv", [("--help",), ("health", "--help"), ("serve", "--help"), ("doctor", "--help"),
                                  ("migrate", "--help"), ("logs", "--help"), ("railway", "deployments", "--help"),
                                  ("demo", "--help")])
def test_help_loads_no_heavy_library(tmp_path, argv):
    code, modules = _loaded(tmp_path, *argv)
    assert code == 0
    assert "bot.cli.health" in modules  # every verb was registered
    assert _of(modules, HEAVY) == []


def test_health_of_a_url_loads_neither_slack_nor_the_database(tmp_path):
    code, modules = _loaded(tmp_path, "health", f"http://127.0.0.1:{closed_port()}", "--timeout", "1")
    assert code == 1  # the probe ran: nothing listens there, so the service is down
    assert "bot.probe.engine" in modules
    assert _of(modules, NOT_FOR_HEALTH) == []
