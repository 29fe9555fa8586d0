"""``/status`` in a real browser: headless Chromium (Debian's ``chromium``) loads the page the bot serves,
during an incident with an approved public update, and we check what a visitor sees: the DOM after
parsing (``--dump-dom``) and a screenshot (``--screenshot``), the one the README shows.

No browser installed: skipped locally with the reason, a failure under ``CI=true`` (``.ci/run``
installs ``chromium``). ``CHATOPS_UPDATE_SCREENSHOT=1`` writes the screenshot to
``docs/img/status-page.png``; otherwise it goes to the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from bot.slack.action_ids import ActionId
from tests.conftest import eventually
from tests.images import png_facts
from tests.test_status_page import PUBLIC, click, command, draft_in, get, open_incident, start

pytest_plugins = ["tests.incident_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "img" / "status-page.png"
BROWSER_SECONDS = 60
WINDOW = (900, 1000)
# Nothing leaves loopback: no name resolves but 127.0.0.1, and Chromium's own background traffic is off.
QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
         "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1", "--mute-audio",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("no Chromium under CI: .ci/run installs Debian's chromium package")
    pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it for CI")


async def run_browser(binary: str, profile: Path, *args: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(binary, *QUIET, f"--user-data-dir={profile}", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), BROWSER_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"Chromium did not finish within {BROWSER_SECONDS} s") from None
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


async def test_a_visitor_sees_the_components_and_the_approved_update(make_bot, slack, signer, target, tmp_path):
    binary = browser()
    bot = await start(make_bot, target)
    inc = await open_incident(bot, slack, signer)
    await command(bot, slack, signer, f"publish {PUBLIC}", channel=inc.channel_id)
    draft = await eventually(lambda: draft_in(slack, inc.channel_id), timeout=30)
    await click(bot, slack, signer, ActionId.PUBLIC_UPDATE_APPROVE, draft, user="U0BOB", channel=inc.channel_id)
    await eventually(lambda: _published(bot), timeout=30)

    dom = (await run_browser(binary, tmp_path / "profile-dom", "--dump-dom", bot.url + "/status")).decode()
    assert '<html lang="en">' in dom
    assert "<h1>Example Shop status</h1>" in dom and "Some systems are having problems" in dom
    assert "Shop API" in dom and "Operational" in dom and "Shop API: ongoing incident" in dom
    assert PUBLIC.replace("&", "&amp;") in dom and "Investigating" in dom
    assert "<script" not in dom
    for internal in ("dep-7f3a", "pool exhausted", "Checkout 502", "U0ANA", "U0BOB", "backend", inc.channel_id):
        assert internal not in dom, internal

    shot = SCREENSHOT if os.environ.get("CHATOPS_UPDATE_SCREENSHOT") == "1" else tmp_path / "status-page.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    await run_browser(binary, tmp_path / "profile-shot", f"--screenshot={shot}",
                      f"--window-size={WINDOW[0]},{WINDOW[1]}", bot.url + "/status")
    width, height, shades = png_facts(shot.read_bytes())
    assert (width, height) == WINDOW
    assert shades > 50, "the screenshot looks blank"


async def _published(bot) -> bool:
    data = (await get(bot, "/status.json")).json()
    return bool(data["incidents"])
