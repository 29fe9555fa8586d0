"""Slack's Block Kit limits, the builders every renderer uses, and a checker for plain dicts.

slack_sdk validates only model objects (and not the 50-block cap or field lengths), and Slack
answers ``invalid_blocks`` at run time. This module is the one place that knows the limits
(slack-platform.md §4): the builders clip to them, the Slack emulator enforces them and renderer
tests assert on them. Problems are worded like Slack's own ``invalid_blocks`` messages, each ending
with a JSON pointer.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # a Home tab or modal view (slack-platform.md: "Blocks per modal / Home tab")
MAX_VIEW_TEXT = 24  # a modal's title, submit and close labels
INPUT_ELEMENTS = frozenset({"plain_text_input", "number_input", "email_text_input", "url_text_input",
                            "static_select", "checkboxes", "radio_buttons", "datepicker", "timepicker",
                            "users_select", "conversations_select", "channels_select"})
MAX_SECTION = 3000  # a section's text
MAX_FIELD = 2000  # one of a section's fields
MAX_HEADER = 150
MAX_BUTTON = 75  # a button's label
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK = 3900  # the top-level ``text``: what notifications show, kept under chat.update's limit
MAX_UPDATE_TEXT = 4000  # chat.update answers msg_too_long above this; keep every message under it
MAX_POST_TEXT = 40000  # chat.postMessage truncates longer text
BUTTON_STYLES = ("primary", "danger")
TEXT_TYPES = ("plain_text", "mrkdwn")
BLOCK_TYPES = frozenset({
    "actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text",
    "section", "video", "context_actions", "table",
})


def clip(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, an ellipsis saying it was cut; a code span or block the cut
    leaves open is closed, so Slack does not show a stray backtick (or the rest as code)."""
    if len(text) <= limit:
        return text
    if limit < 5:
        return text[: limit - 1] + "…"
    cut = text[: limit - 4] + "…"
    if cut.count("```") % 2:
        return cut + "```"
    if cut.replace("```", "").count("`") % 2:
        return cut + "`"
    return text[: limit - 1] + "…"


def _with_id(block: dict[str, Any], block_id: str | None) -> dict[str, Any]:
    if block_id:
        block["block_id"] = block_id
    return block


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}, block_id)


def context(*texts: str, block_id: str | None = None) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": clip(x, MAX_SECTION)} for x in texts[:MAX_CONTEXT_ELEMENTS]]
    return _with_id({"type": "context", "elements": elements}, block_id)


def header(text: str, block_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER), "emoji": True}},
                    block_id)


def button(text: str, action_id: str, value: str, *, style: str | None = None,
           confirm: dict | None = None) -> dict[str, Any]:
    built: dict[str, Any] = {"type": "button", "action_id": str(action_id), "value": value,
                             "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON), "emoji": True}}
    if style:
        built["style"] = style
    if confirm:
        built["confirm"] = confirm
    return built


def confirm_dialog(title: str, text: str, yes: str, no: str, *, style: str | None = None) -> dict[str, Any]:
    """A button's "are you sure?" dialog, clipped to Slack's limits (title 100, text 300, buttons 30)."""
    dialog: dict[str, Any] = {"title": {"type": "plain_text", "text": clip(title, 100)},
                              "text": {"type": "mrkdwn", "text": clip(text, 300)},
                              "confirm": {"type": "plain_text", "text": clip(yes, 30)},
                              "deny": {"type": "plain_text", "text": clip(no, 30)}}
    if style:
        dialog["style"] = style
    return dialog


def actions(elements: list[dict[str, Any]], block_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "actions", "elements": elements}, block_id)


def message_problems(text: str | None, blocks: list | None, *, max_text: int | None = MAX_UPDATE_TEXT) -> list[str]:
    """Everything Slack (or our text-fallback rule) would reject in a message payload; empty when fine.

    A non-empty top-level ``text`` is required whenever blocks are given: it is what
    notifications and screen readers show. ``max_text=None`` skips the length check (chat.postMessage
    accepts up to 40,000 characters and truncates beyond).
    """
    problems = [] if blocks is None else block_problems(blocks)
    if blocks and not (text or "").strip():
        problems.append("top-level text is required as a fallback when blocks are given [json-pointer:/text]")
    if not blocks and not (text or "").strip():
        problems.append("a message needs text or blocks [json-pointer:/text]")
    if text is not None and max_text is not None and len(text) > max_text:
        problems.append(f"must be less than {max_text + 1} characters [json-pointer:/text]")
    return problems


def view_problems(view: Any) -> list[str]:
    """What Slack refuses in a modal (``views.open``): its type, title/submit/close labels (24 characters),
    ``callback_id`` (255), ``private_metadata`` (3,000), up to 100 blocks, and a submit label whenever an
    input block is there (slack-platform.md §4)."""
    checker = _Checker(MAX_VIEW_BLOCKS)
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    if view.get("type") != "modal":
        checker.problem("must be modal", "/view/type")
    checker.text(view.get("title"), "/view/title", high=MAX_VIEW_TEXT, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            checker.text(view[key], f"/view/{key}", high=MAX_VIEW_TEXT, plain_only=True)
    if "callback_id" in view:
        checker.string(view["callback_id"], "/view/callback_id", high=255)
    if "private_metadata" in view:
        checker.string(view["private_metadata"], "/view/private_metadata", high=3000)
    blocks = checker.items(view.get("blocks"), "/view/blocks", high=MAX_VIEW_BLOCKS)
    for i, block in enumerate(blocks):
        checker.block(block, f"/view/blocks/{i}")
    if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and "submit" not in view:
        checker.problem("submit is required when a view has input blocks", "/view/submit")
    return checker.problems


def block_problems(blocks: Any, *, max_blocks: int = MAX_BLOCKS) -> list[str]:
    """Limit violations inside a ``blocks`` array (count, ids, texts, elements); ``max_blocks`` is 50 for a
    message and MAX_VIEW_BLOCKS for a view."""
    checker = _Checker(max_blocks)
    checker.blocks(blocks)
    return checker.problems


class _Checker:
    def __init__(self, max_blocks: int = MAX_BLOCKS) -> None:
        self.max_blocks = max_blocks
        self.problems: list[str] = []
        self._block_ids: set[str] = set()
        self._markdown_chars = 0

    def problem(self, message: str, pointer: str) -> None:
        self.problems.append(f"{message} [json-pointer:{pointer}]")

    def string(self, value: Any, pointer: str, *, high: int, low: int = 0) -> None:
        if not isinstance(value, str):
            self.problem("must be a string", pointer)
        elif len(value) > high:
            self.problem(f"must be less than {high + 1} characters", pointer)
        elif len(value) < low:
            self.problem(f"must be more than {low - 1} characters", pointer)

    def items(self, value: Any, pointer: str, *, high: int, low: int = 1) -> list:
        if not isinstance(value, list):
            self.problem("must be an array", pointer)
            return []
        if len(value) > high:
            self.problem(f"no more than {high} items allowed", pointer)
        elif len(value) < low:
            self.problem(f"must provide at least {low} items", pointer)
        return value

    def text(self, obj: Any, pointer: str, *, high: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.problem("must provide an object", pointer)
            return
        allowed = ("plain_text",) if plain_only else TEXT_TYPES
        if obj.get("type") not in allowed:
            self.problem(f"must be one of: {', '.join(allowed)}", f"{pointer}/type")
        self.string(obj.get("text"), f"{pointer}/text", high=high, low=1)

    def blocks(self, blocks: Any) -> None:
        for i, block in enumerate(self.items(blocks, "/blocks", high=self.max_blocks, low=0)):
            self.block(block, f"/blocks/{i}")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.problem("must provide an object", pointer)
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.problem("unsupported block type", f"{pointer}/type")
            return
        if "block_id" in block:
            block_id = block["block_id"]
            self.string(block_id, f"{pointer}/block_id", high=255, low=1)
            if isinstance(block_id, str):
                if block_id in self._block_ids:
                    self.problem("duplicate block_id", f"{pointer}/block_id")
                self._block_ids.add(block_id)
        check = getattr(self, f"_{kind}", None)
        if check:
            check(block, pointer)

    def _section(self, block: dict, pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.problem("must provide text or fields", pointer)
        if "text" in block:
            self.text(block["text"], f"{pointer}/text", high=3000)
        if "fields" in block:
            for i, field in enumerate(self.items(block["fields"], f"{pointer}/fields", high=10)):
                self.text(field, f"{pointer}/fields/{i}", high=2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory")

    def _header(self, block: dict, pointer: str) -> None:
        self.text(block.get("text"), f"{pointer}/text", high=150, plain_only=True)

    def _context(self, block: dict, pointer: str) -> None:
        for i, element in enumerate(self.items(block.get("elements"), f"{pointer}/elements", high=10)):
            if not isinstance(element, dict) or element.get("type") not in (*TEXT_TYPES, "image"):
                self.problem("must be an image or a text object", f"{pointer}/elements/{i}")

    def _actions(self, block: dict, pointer: str) -> None:
        for i, element in enumerate(self.items(block.get("elements"), f"{pointer}/elements", high=25)):
            self.element(element, f"{pointer}/elements/{i}")

    def _image(self, block: dict, pointer: str) -> None:
        if "slack_file" not in block:
            self.string(block.get("image_url"), f"{pointer}/image_url", high=3000, low=1)
        self.string(block.get("alt_text"), f"{pointer}/alt_text", high=2000, low=1)

    def _markdown(self, block: dict, pointer: str) -> None:
        text = block.get("text")
        self.string(text, f"{pointer}/text", high=12000, low=1)
        if isinstance(text, str):
            self._markdown_chars += len(text)
            if self._markdown_chars > 12000:
                self.problem("markdown blocks must total less than 12001 characters", f"{pointer}/text")

    def _input(self, block: dict, pointer: str) -> None:
        self.text(block.get("label"), f"{pointer}/label", high=2000, plain_only=True)
        if "hint" in block:
            self.text(block["hint"], f"{pointer}/hint", high=2000, plain_only=True)
        element = block.get("element")
        if not isinstance(element, dict) or element.get("type") not in INPUT_ELEMENTS:
            self.problem(f"must be one of: {', '.join(sorted(INPUT_ELEMENTS))}", f"{pointer}/element/type")
            return
        self.element(element, f"{pointer}/element")

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.problem("must provide an object with a type", pointer)
            return
        if "action_id" in element:
            self.string(element["action_id"], f"{pointer}/action_id", high=255, low=1)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{pointer}/confirm")
        if element["type"] != "button":
            return
        self.text(element.get("text"), f"{pointer}/text", high=75, plain_only=True)
        if "value" in element:
            self.string(element["value"], f"{pointer}/value", high=2000)
        if "url" in element:
            self.string(element["url"], f"{pointer}/url", high=3000, low=1)
        if "style" in element and element["style"] not in BUTTON_STYLES:
            self.problem(f"must be one of: {', '.join(BUTTON_STYLES)}", f"{pointer}/style")

    def confirm(self, confirm: Any, pointer: str) -> None:
        if not isinstance(confirm, dict):
            self.problem("must provide an object", pointer)
            return
        self.text(confirm.get("title"), f"{pointer}/title", high=100, plain_only=True)
        self.text(confirm.get("text"), f"{pointer}/text", high=300)
        self.text(confirm.get("confirm"), f"{pointer}/confirm", high=30, plain_only=True)
        self.text(confirm.get("deny"), f"{pointer}/deny", high=30, plain_only=True)
        if "style" in confirm and confirm["style"] not in BUTTON_STYLES:
            self.problem(f"must be one of: {', '.join(BUTTON_STYLES)}", f"{pointer}/style")
