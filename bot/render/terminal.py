"""Block Kit shown in a terminal: what a person would read in Slack, as plain (or coloured) text."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.i18n import slack_unescape

_BOLD = re.compile(r"\*(?=\S)([^*\n]+?)\*")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_USER = re.compile(r"<@([A-Z0-9]+)>")
_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]+)>")
_SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):", re.I)
EMOJI = {"white_check_mark": "✅", "x": "❌", "warning": "⚠️", "large_green_circle": "🟢",
         "large_yellow_circle": "🟡", "red_circle": "🔴", "hourglass_flowing_sand": "⏳", "mag": "🔎",
         "no_entry_sign": "🚫", "rotating_light": "🚨", "question": "❓", "grey_question": "❔",
         "heavy_minus_sign": "➖", "arrows_counterclockwise": "🔄", "stopwatch": "⏱️", "fire": "🔥"}


def mrkdwn(text: str, color: bool = False, names: Mapping[str, str] | None = None) -> str:
    """``names`` (user id → name) shows a mention as a person reads it in Slack: ``@ana``, not ``@U0ANA``."""
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1).lower(), m.group(0)), text)
    text = _DATE.sub(r"\1", text)
    text = _LINK.sub(r"\2 (\1)", text)
    text = _USER.sub(lambda m: "@" + (names or {}).get(m.group(1), m.group(1)), text)
    text = _SUBTEAM.sub(r"@\1", text)
    if color:
        text = _BOLD.sub("\033[1m\\1\033[22m", text)
        text = _CODE.sub("\033[36m\\1\033[39m", text)
    else:
        text = _BOLD.sub(r"\1", text)
    return slack_unescape(text)


def _text(obj: dict | None) -> str:
    return (obj or {}).get("text", "")


def blocks_to_text(blocks: list[dict] | None, fallback: str = "", color: bool = False,
                   names: Mapping[str, str] | None = None) -> str:
    if not blocks:
        return mrkdwn(fallback, color, names)
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            head = _EMOJI.sub(lambda m: EMOJI.get(m.group(1).lower(), m.group(0)), _text(block.get("text")))
            lines.append(f"\033[1m{head}\033[22m" if color else head.upper())
        elif kind == "section":
            if block.get("text"):
                lines.append(mrkdwn(_text(block["text"]), color, names))
            for field in block.get("fields") or []:
                lines.append("  " + mrkdwn(_text(field), color, names))
        elif kind == "context":
            parts = [mrkdwn(_text(e), color, names) for e in block.get("elements", []) if e.get("type") != "image"]
            line = " · ".join(p for p in parts if p)
            lines.append(f"\033[2m{line}\033[22m" if color else line)
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "actions":
            buttons = [f"[ {_text(e.get('text'))} ]" for e in block.get("elements", []) if e.get("type") == "button"]
            lines.append("  ".join(buttons))
    return "\n".join(lines)
