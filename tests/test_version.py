"""One version, shown everywhere: `chatops --version`, the bot's own /health, and the User-Agent of the bot's
probes and Railway calls (the installed metadata and ``bot.__version__`` are the same number)."""

from __future__ import annotations

from importlib.metadata import version

import httpx
import pytest

import bot
from bot.cli import main
from bot.common.identity import USER_AGENT, VERSION
from sandbox.emulators.target import TargetEmulator

INSTALLED = version("chatops")


def test_the_installed_metadata_reads_the_one_version():
    assert INSTALLED == bot.__version__ == VERSION
    assert USER_AGENT == f"chatops/{INSTALLED}"


def test_chatops_version_prints_it(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"chatops {INSTALLED}\n"


async def test_the_bots_own_health_shows_it(make_bot):
    running = await make_bot()
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(running.url + "/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "version": INSTALLED}


@pytest.fixture
async def target():
    emulator = TargetEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


async def test_the_bots_probes_say_who_sends_them(make_bot, slack, signer, target):
    running = await make_bot(f'[[services]]\nname = "backend"\nurl = "{target.url}"\n')
    req = signer.slash_command("/health", "backend", user_id="U1", channel_id="C1",
                               response_url=slack.response_url(channel="C1"))
    async with httpx.AsyncClient(timeout=15) as http:
        assert (await http.post(running.slack_url, content=req.body, headers=req.headers)).status_code == 200
    await running.rt.jobs.join()
    seen = list(target.requests)
    assert seen, "the /health command probed nothing"
    assert {r.headers.get("User-Agent") for r in seen} == {f"chatops/{INSTALLED}"}
