"""The target and Railway emulators for the incident tests (``pytest_plugins = ["tests.incident_fixtures"]``)."""

from __future__ import annotations

import pytest

from sandbox.emulators.railway import RailwayEmulator
from sandbox.emulators.target import TargetEmulator
from tests.test_incidents_outage import WORLD


@pytest.fixture
async def target():
    emu = TargetEmulator()
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def railway():
    emu = RailwayEmulator(WORLD)
    await emu.start()
    yield emu
    await emu.stop()
