"""bot.render.blocks: every limit of slack-platform.md §4, at the limit (accepted) and one past it (reported)."""

from __future__ import annotations

import pytest

from bot.render.blocks import block_problems, message_problems


def text(value: str, kind: str = "plain_text") -> dict:
    return {"type": kind, "text": value}


def button(**overrides) -> dict:
    return {"type": "button", "action_id": "a", "value": "v", "text": text("Go"), **overrides}


def confirm(title: int = 5, body: int = 5, yes: int = 5, no: int = 5) -> dict:
    return {"title": text("t" * title), "text": text("b" * body, "mrkdwn"), "confirm": text("y" * yes),
            "deny": text("n" * no)}


def section(n: int) -> dict:
    return {"type": "section", "text": text("s" * n, "mrkdwn")}


def actions(*elements: dict) -> dict:
    return {"type": "actions", "elements": list(elements)}


# (name, blocks at the limit, blocks one past it, JSON pointer of the problem)
LIMITS = [
    ("blocks per message", [{"type": "divider"}] * 50, [{"type": "divider"}] * 51, "/blocks"),
    ("block_id", [{"type": "divider", "block_id": "b" * 255}], [{"type": "divider", "block_id": "b" * 256}],
     "/blocks/0/block_id"),
    ("section text", [section(3000)], [section(3001)], "/blocks/0/text/text"),
    ("section text empty", [section(1)], [section(0)], "/blocks/0/text/text"),
    ("fields count", [{"type": "section", "fields": [text("f", "mrkdwn")] * 10}],
     [{"type": "section", "fields": [text("f", "mrkdwn")] * 11}], "/blocks/0/fields"),
    ("field length", [{"type": "section", "fields": [text("f" * 2000, "mrkdwn")]}],
     [{"type": "section", "fields": [text("f" * 2001, "mrkdwn")]}], "/blocks/0/fields/0/text"),
    ("header", [{"type": "header", "text": text("h" * 150)}], [{"type": "header", "text": text("h" * 151)}],
     "/blocks/0/text/text"),
    ("header is plain_text", [{"type": "header", "text": text("h")}],
     [{"type": "header", "text": text("h", "mrkdwn")}], "/blocks/0/text/type"),
    ("context elements", [{"type": "context", "elements": [text("c", "mrkdwn")] * 10}],
     [{"type": "context", "elements": [text("c", "mrkdwn")] * 11}], "/blocks/0/elements"),
    ("actions elements", [actions(*[button()] * 25)], [actions(*[button()] * 26)], "/blocks/0/elements"),
    ("button text", [actions(button(text=text("x" * 75)))], [actions(button(text=text("x" * 76)))],
     "/blocks/0/elements/0/text/text"),
    ("button value", [actions(button(value="v" * 2000))], [actions(button(value="v" * 2001))],
     "/blocks/0/elements/0/value"),
    ("button url", [actions(button(url="https://x/" + "u" * 2990))], [actions(button(url="https://x/" + "u" * 2991))],
     "/blocks/0/elements/0/url"),
    ("action_id", [actions(button(action_id="a" * 255))], [actions(button(action_id="a" * 256))],
     "/blocks/0/elements/0/action_id"),
    ("button style", [actions(button(style="danger"))], [actions(button(style="red"))],
     "/blocks/0/elements/0/style"),
    ("confirm title", [actions(button(confirm=confirm(title=100)))], [actions(button(confirm=confirm(title=101)))],
     "/blocks/0/elements/0/confirm/title/text"),
    ("confirm text", [actions(button(confirm=confirm(body=300)))], [actions(button(confirm=confirm(body=301)))],
     "/blocks/0/elements/0/confirm/text/text"),
    ("confirm button", [actions(button(confirm=confirm(yes=30)))], [actions(button(confirm=confirm(yes=31)))],
     "/blocks/0/elements/0/confirm/confirm/text"),
    ("deny button", [actions(button(confirm=confirm(no=30)))], [actions(button(confirm=confirm(no=31)))],
     "/blocks/0/elements/0/confirm/deny/text"),
    ("accessory button", [{**section(5), "accessory": button()}],
     [{**section(5), "accessory": button(text=text("x" * 76))}], "/blocks/0/accessory/text/text"),
    ("unique block_id", [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "b"}],
     [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}], "/blocks/1/block_id"),
    ("block type", [{"type": "divider"}], [{"type": "dividr"}], "/blocks/0/type"),
]


@pytest.mark.parametrize(("name", "ok", "bad", "pointer"), LIMITS, ids=[case[0] for case in LIMITS])
def test_limit(name, ok, bad, pointer):
    assert block_problems(ok) == []
    assert message_problems("fallback", ok) == []
    problems = message_problems("fallback", bad)
    assert len(problems) == 1, problems
    assert problems[0].endswith(f"[json-pointer:{pointer}]")


def test_top_level_text():
    blocks = [section(5)]
    assert message_problems("x" * 4000, blocks) == []
    assert message_problems("x" * 4001, blocks) == ["must be less than 4001 characters [json-pointer:/text]"]
    assert message_problems("x" * 4001, blocks, max_text=None) == []
    assert message_problems(None, blocks)[0].startswith("top-level text is required")
    assert message_problems("  ", blocks)[0].startswith("top-level text is required")
    assert message_problems(None, None) == ["a message needs text or blocks [json-pointer:/text]"]
    assert message_problems("plain text only", None) == []


def test_not_a_list_or_object():
    assert block_problems("[]") == ["must be an array [json-pointer:/blocks]"]
    assert block_problems(["divider"]) == ["must provide an object [json-pointer:/blocks/0]"]
