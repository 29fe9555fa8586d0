"""The server's own signature check against Slack's published test vector and the 5-minute window."""

from __future__ import annotations

import pytest

from bot.slack import signing
from tests.shared import shared_path

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
EXPECTED = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def _vector_body() -> bytes:
    text = shared_path("reference/slack-platform.md").read_text(encoding="utf-8")
    line = next(ln.strip().strip("`") for ln in text.splitlines() if ln.strip().startswith("`token=xyzz0WbapA4v"))
    return line.encode()


@pytest.mark.shared
def test_slack_test_vector_is_accepted_inside_the_window():
    body = _vector_body()
    assert signing.expected_signature(SECRET, TIMESTAMP, body) == EXPECTED
    assert signing.is_valid(SECRET, body, TIMESTAMP, EXPECTED, now=int(TIMESTAMP) + 300)
    assert signing.is_valid(SECRET, body, TIMESTAMP, EXPECTED, now=int(TIMESTAMP) - 300)


@pytest.mark.shared
def test_outside_the_window_wrong_secret_or_missing_parts_are_rejected():
    body = _vector_body()
    assert not signing.is_valid(SECRET, body, TIMESTAMP, EXPECTED, now=int(TIMESTAMP) + 301)
    assert not signing.is_valid(SECRET, body, TIMESTAMP, EXPECTED, now=int(TIMESTAMP) - 301)
    assert not signing.is_valid("other-secret", body, TIMESTAMP, EXPECTED, now=int(TIMESTAMP))
    assert not signing.is_valid(SECRET, body + b"x", TIMESTAMP, EXPECTED, now=int(TIMESTAMP))
    assert not signing.is_valid(SECRET, body, None, EXPECTED, now=int(TIMESTAMP))
    assert not signing.is_valid(SECRET, body, "not-a-number", EXPECTED, now=int(TIMESTAMP))
    assert not signing.is_valid("", body, TIMESTAMP, EXPECTED, now=int(TIMESTAMP))


def test_non_utf8_bodies_are_checked_as_bytes():
    body = b"command=%2Fhealth&text=\xff"
    sig = signing.expected_signature(SECRET, TIMESTAMP, body)
    assert signing.is_valid(SECRET, body, TIMESTAMP, sig, now=int(TIMESTAMP))
