"""Shared fixtures: databases (SQLite and a real PostgreSQL), the Slack emulator, the bot itself."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from bot.config.services import ServicesFile, parse_services
from bot.config.settings import Settings, load_settings
from bot.store.migrate import upgrade_async
from sandbox.runner import RunningBot, start_bot
from tests import shared

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-emulator-token"
# A bot stops in well under a second (follow-ups get 10 s to finish); past this bound its teardown
# fails, naming the tasks still running, instead of holding the suite until pytest-timeout's 180 s.
BOT_STOP_BOUND = 30.0


def _admin_dsn() -> str:
    return TEST_DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://")


async def _postgres_available() -> str | None:
    try:
        conn = await asyncpg.connect(_admin_dsn(), timeout=3)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    problem = await _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {TEST_DATABASE_URL} is unreachable under CI: {problem}")
        pytest.skip(f"PostgreSQL at {TEST_DATABASE_URL} is unreachable: {problem}")
    name = f"chatops_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_admin_dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = _admin_dsn().rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin = await asyncpg.connect(_admin_dsn())
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'chatops.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """Runs the test once on SQLite and once on a real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


# The tests' workspace: the channels they post in exist and the bot is in them (Slack's emulator is as
# strict as Slack: an unknown channel is channel_not_found); #random is public and without the bot.
TEST_CHANNELS = {"C0GENERAL": "general", "C0OPS": "ops", "C0INCIDENTS": "incidents",
                 "C0RANDOM": {"name": "random", "bot_member": False}}


@pytest.fixture
async def slack() -> AsyncIterator:
    from sandbox.emulators.slack import SlackEmulator

    emu = SlackEmulator(bot_token=BOT_TOKEN, usergroups={"S0SRE": ["U0MAY", "U0SAM"]},
                        users={"U0ESP": {"name": "esp", "locale": "es-ES"}}, channels=TEST_CHANNELS)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
def signer():
    from sandbox.emulators.signer import SlackRequestSigner

    return SlackRequestSigner(SIGNING_SECRET)


def bot_settings(slack_url: str, database_url: str, **extra) -> Settings:
    # Rows a stopping test bot could not write go to the temp folder, never into the checkout.
    extra.setdefault("CHATOPS_AUDIT_SPILL_PATH", Path(tempfile.gettempdir()) / "chatops-tests-audit-spill.jsonl")
    return load_settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                         SLACK_API_URL=slack_url + "/api/", DATABASE_URL=database_url, **extra)


@pytest.fixture
async def make_bot(slack, sqlite_url, tmp_path) -> AsyncIterator[Callable]:
    """Start the real bot (runtime, Bolt app, HTTP server) on loopback; stopped after the test.

    The database is migrated first (as the release step does). A test that passes ``pg_url`` or
    ``db_url`` names that fixture before ``make_bot`` so the database outlives the bot.
    """


    running: list[RunningBot] = []

    async def factory(config: ServicesFile | str = "", *, database_url: str | None = None,
                      **settings_extra) -> RunningBot:
        cfg = parse_services(config) if isinstance(config, str) else config
        settings_extra.setdefault("CHATOPS_AUDIT_SPILL_PATH", str(tmp_path / "audit-spill.jsonl"))
        settings = bot_settings(slack.url, database_url or sqlite_url, **settings_extra)
        await upgrade_async(settings.DATABASE_URL)
        bot = await start_bot(settings, cfg)
        running.append(bot)
        return bot

    yield factory
    for bot in running:
        try:
            async with asyncio.timeout(BOT_STOP_BOUND):
                await bot.stop()
        except TimeoutError:
            stuck = sorted(t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task())
            pytest.fail(f"the bot did not stop within {BOT_STOP_BOUND:g} s; tasks still running: {', '.join(stuck)}")


def count_calls(obj: object, name: str) -> Callable[[], int]:
    """Count the calls made from now on to the async method ``obj.<name>``.

    A bound measured in the object's own steps (renewals, heartbeats) rather than in seconds: a busy
    machine delays each step, so it cannot make the count larger."""
    calls = 0
    original = getattr(obj, name)

    async def counted(*args, **kwargs):
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)

    setattr(obj, name, counted)
    return lambda: calls


async def eventually(predicate: Callable, timeout: float = 30.0, interval: float = 0.02):
    """Poll ``predicate`` (sync or async) until it returns something truthy. It returns as soon as it does:
    the bound only says when to give up on an event that will not come, so it is generous (a busy machine
    may delay the event a lot)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@pytest.fixture
async def rollback_env() -> AsyncIterator:
    """The Railway emulator (demo world, fast stages) and the target emulator, started."""
    from sandbox.emulators.railway import RailwayEmulator
    from sandbox.emulators.target import TargetEmulator
    from tests.rollback_env import RollbackEnv

    railway = RailwayEmulator(stage_seconds=0.05)
    target = TargetEmulator(git_sha="4f2c9e1")
    await railway.start()
    await target.start()
    yield RollbackEnv(railway, target)
    await target.stop()
    await railway.stop()


# ---- tests that read ../shared (tests/shared.py) ----------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    shared.current_test = item
    try:
        yield
    finally:
        shared.current_test = None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if shared.needs_shared(item) and not shared.available():
        if shared.under_ci():
            pytest.fail(f"{shared.SHARED} is missing under CI=true; this test reads reference files from it")
        pytest.skip(f"needs ../shared ({shared.SHARED} is missing)")


def pytest_terminal_summary(terminalreporter) -> None:
    """Name the tests that did not run for want of ../shared, so a contributor knows what CI runs more."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.keywords.get(shared.MARKER)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests need ../shared: skipped")
        for report in skipped:
            terminalreporter.write_line(f"  {report.nodeid}")
