"""JSON nesting depth, measured before parsing: ``json.loads`` recurses once per level, so a signed
body nested 10,000 deep would raise RecursionError (a 500) instead of being refused."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
# The only characters that matter: escapes (skipped), quotes (brackets inside strings nest nothing), brackets.
_TOKEN = re.compile(r'\\.|["\[\]{}]', re.S)


class TooDeep(ValueError):
    """The document nests arrays and objects more than ``MAX_DEPTH`` levels deep."""


def depth(text: str) -> int:
    """The deepest nesting of ``[`` / ``{`` in ``text``, ignoring brackets inside strings (linear time)."""
    deepest = level = 0
    in_string = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or len(token) == 2:
            continue
        elif token in "[{":
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth`` (TooDeep, a ValueError)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if depth(text) > max_depth:
        raise TooDeep(f"nested more than {max_depth} levels deep")
    return json.loads(text)
