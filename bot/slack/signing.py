"""Verifying Slack's request signature over the raw bytes (before any decoding).

slack_sdk's SignatureVerifier decodes the body as UTF-8 first, so a signed body that is not
UTF-8 would crash it; this check works on bytes and lets the server answer such a body with 400.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

MAX_AGE_SECONDS = 300
# Plain ASCII digits only: ``int()`` also accepts "٣", " 12", "1_0" and 4,000-digit numbers, and a
# non-ASCII timestamp cannot even be encoded into the signed base string.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, timestamp: str | None, signature: str | None,
             now: float | None = None) -> bool:
    """True only for a well-formed, fresh signature over ``body``; any malformed header is just invalid."""
    if not secret or not timestamp or not signature:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(expected_signature(secret, timestamp, body), signature)
