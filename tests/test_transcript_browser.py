"""The demo's transcript as Slack shows it, checked in headless Chromium (the status page test's helpers):
Block Kit rendered (no raw mrkdwn left), names instead of ids, ephemeral and edited messages marked,
the Home tab and the chart embedded, and readable at a phone's width.

``CHATOPS_UPDATE_SCREENSHOT=1`` writes the README's screenshot to ``docs/img/demo-transcript.png``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sandbox.demo import run_demo
from tests.images import png_facts
from tests.test_status_browser import browser, run_browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "img" / "demo-transcript.png"
PHONE = (390, 1600)


def _outside_code(dom: str) -> str:
    """The page's text without its code blocks (where Slack, too, shows characters as typed)."""
    body = re.sub(r"<pre class=\"code\">.*?</pre>|<code>.*?</code>", "", dom, flags=re.S)
    return re.sub(r"<[^>]+>", "", body)


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_the_transcript_renders_block_kit_as_slack_does(lang, tmp_path):
    binary = browser()
    transcript = tmp_path / "demo-transcript.html"
    assert await run_demo(lang=lang, transcript=transcript, color=False) == 0
    dom = (await run_browser(binary, tmp_path / "profile-dom", "--dump-dom", transcript.as_uri())).decode()

    text = _outside_code(dom)
    assert not re.search(r"\*\S[^*\n]*\*", text), "raw *bold* left"
    assert "`" not in text and "<#C" not in text and "&lt;#C" not in dom and "&lt;@U" not in dom
    assert '<span class="mention">#inc-' in dom and '<span class="mention">@leo</span>' in dom
    assert 'class="bk-header"' in dom and 'class="bk-fields"' in dom and 'class="btn primary"' in dom
    only_you = {"en": "Only visible to you", "es": "Solo visible para ti"}[lang]
    edited = {"en": "(edited)", "es": "(editado)"}[lang]
    assert only_you in dom and edited in dom
    # Leo's Slack locale is en-US: his Home tab is in English whatever the channel's language.
    assert '<section class="home"' in dom and "Waiting for your approval" in dom
    chart = re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="([^"]+)"', dom)
    assert chart and "80%" in chart.group(1)
    assert "<script" not in dom and "xoxb-" not in dom

    shot = SCREENSHOT if os.environ.get("CHATOPS_UPDATE_SCREENSHOT") == "1" and lang == "en" \
        else tmp_path / "transcript.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    await run_browser(binary, tmp_path / "profile-shot", f"--screenshot={shot}",
                      f"--window-size={PHONE[0]},{PHONE[1]}", transcript.as_uri())
    width, height, shades = png_facts(shot.read_bytes())
    assert (width, height) == PHONE and shades > 50, "the screenshot looks blank"
    # Nothing is wider than the phone: the page does not scroll sideways.
    layout = (await run_browser(binary, tmp_path / "profile-width", f"--window-size={PHONE[0]},{PHONE[1]}",
                                "--dump-dom", transcript.as_uri())).decode()
    assert 'name="viewport" content="width=device-width' in layout
