"""Fixtures for the /health tests, loaded with ``pytest_plugins = ["tests.probe_fixtures"]``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.probe.http import probe_client
from sandbox.emulators.target import TargetEmulator


@pytest.fixture
async def emu() -> AsyncIterator[TargetEmulator]:
    target = TargetEmulator(git_sha="9f8e7d6c5b4a39281706")
    await target.start()
    yield target
    await target.stop()


@pytest.fixture(params=["httpx", "aiohttp"])
async def http(request) -> AsyncIterator[httpx.AsyncClient]:
    """The shared client, once with httpx's own pool and once on aiohttp's (httpx-aiohttp)."""
    async with probe_client(transport=request.param) as client:
        yield client


@pytest.fixture
async def raw() -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client, for talking to the emulator directly."""
    async with httpx.AsyncClient() as client:
        yield client
