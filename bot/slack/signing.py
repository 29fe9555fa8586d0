"""Verifying Slack's request signature over the raw bytes (before any decoding).

slack_sdk's SignatureVerifier decodes the body as UTF-8 first, so a signed body that is not
UTF-8 would crash it; this check works on bytes and lets the server answer such a body with 400.
"""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_AGE_SECONDS = 300


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, timestamp: str | None, signature: str | None,
             now: float | None = None) -> bool:
    if not secret or not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(expected_signature(secret, timestamp, body), signature)
