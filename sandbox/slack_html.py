"""Slack's mrkdwn as HTML, for the demo's transcript: what a reader sees in Slack, not the markup.

Handles what the bot writes: ``*bold*``, ``_italic_``, ``~strike~``, ``` `code` ``` and fenced blocks,
``<url|label>`` links, ``<@U…>`` mentions, ``<#C…>`` channels and ``<!subteam^S…>`` groups (resolved to
names), ``<!date^…|fallback>``, ``&amp;``/``&lt;``/``&gt;`` and the few emoji codes the bot uses.
Everything else is escaped: the output is safe to put in a page as is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.render.terminal import EMOJI as TERMINAL_EMOJI

EMOJI = {**TERMINAL_EMOJI, "white_circle": "⚪", "hourglass": "⌛"}
_ANGLE = re.compile(r"<([^<>\n]+)>")
_FENCE = re.compile(r"```\n?(.*?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")

Names = Callable[[str], str | None]  # an id (U…, C…, S…) -> its name, or None when unknown


def mrkdwn(text: str, names: Names) -> str:
    """``text`` (Slack mrkdwn, Slack-escaped) as safe HTML."""
    slots: list[str] = []

    def keep(fragment: str) -> str:
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x00"

    text = _FENCE.sub(lambda m: keep(f"<pre class=\"code\">{_esc(m.group(1))}</pre>"), text)
    text = _CODE.sub(lambda m: keep(f"<code>{_esc(m.group(1))}</code>"), text)
    text = _ANGLE.sub(lambda m: keep(_angle(m.group(1), names)), text)
    text = html.escape(html.unescape(text), quote=False)
    text = _BOLD.sub(r"<b>\1</b>", text)
    text = _ITALIC.sub(r"<i>\1</i>", text)
    text = _STRIKE.sub(r"<s>\1</s>", text)
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    text = text.replace("\n", "<br>")
    return re.sub(r"\x00(\d+)\x00", lambda m: slots[int(m.group(1))], text)


def plain(text: str) -> str:
    """A plain_text object's text, escaped, with emoji codes shown as emoji (Slack does, with ``emoji: true``)."""
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), html.escape(text, quote=False))


def _esc(text: str) -> str:
    return html.escape(html.unescape(text), quote=False)


def _angle(inner: str, names: Names) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        uid = target[1:]
        return f'<span class="mention">@{_esc(label or names(uid) or uid)}</span>'
    if target.startswith("#"):
        cid = target[1:]
        return f'<span class="mention">#{_esc(label or names(cid) or cid)}</span>'
    if target.startswith("!subteam^"):
        gid = target.removeprefix("!subteam^")
        return f'<span class="mention">@{_esc(label or names(gid) or gid)}</span>'
    if target.startswith("!date^"):
        return _esc(label or target)
    if target.startswith("!"):
        return f'<span class="mention">@{_esc(label or target[1:])}</span>'
    url = html.unescape(target)
    if url.startswith(("http://", "https://", "mailto:")):
        return f'<a href="{html.escape(url)}" rel="noopener">{_esc(label or target)}</a>'
    return _esc(f"<{inner}>")
