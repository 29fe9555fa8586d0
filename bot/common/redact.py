"""The one redaction function: logs, Slack messages and errors all pass through it.

Secrets never leave the process. What is removed:
- Slack tokens (xoxb-, xoxp-, xapp-, xoxa-, xoxr-, xoxe-) and ``Bearer …`` credentials;
- passwords inside URLs (``scheme://user:password@host``);
- values of ``NAME=value`` / ``"NAME": "value"`` pairs whose name looks secret
  (``*SECRET*``, ``*KEY*``, ``*TOKEN*``, ``*PASSWORD*``, ``*PASSPHRASE*``, ``DATABASE_URL`` and friends),
  but not the text after an exception class name (``KeyError: 'PORT'`` stays readable);
- credentials recognisable by their form: Stripe (``sk_live_…``, ``rk_test_…``), GitHub
  (``ghp_…``, ``github_pat_…``), Slack webhook and response URLs, Sentry DSN keys, ``Cookie:`` and
  ``Set-Cookie:`` values, JWTs, AWS access key ids;
- values registered at start-up as known secrets (the bot's own tokens).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[redacted]"

_SECRET_NAME = re.compile(
    r"(SECRET|KEY|TOKEN|PASSWORD|PASSPHRASE|PASSWD|PWD|CREDENTIAL|PRIVATE|DATABASE_URL)", re.I)
_DB_URL_NAMES = re.compile(r"(DATABASE|POSTGRES|REDIS|MONGO|MYSQL|AMQP).*URL", re.I)
# "KeyError: 'PORT'", "TokenExpiredError: jwt expired": a class name, not a secret's name.
_EXCEPTION_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(Error|Exception|Warning|Interrupt|Exit)")

_SLACK_TOKEN = re.compile(r"\bxox[abprse]-[A-Za-z0-9-]{6,}|\bxapp-[A-Za-z0-9-]{6,}")
# Credentials with a recognisable form (each provider documents its prefix).
_TOKEN_FORMS = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"  # Stripe secret and restricted keys
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub classic tokens
    r"|\bgithub_pat_[A-Za-z0-9_]{30,}"  # GitHub fine-grained tokens
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWTs (header.payload.signature)
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
)
_SLACK_HOOK = re.compile(r"(?P<keep>hooks\.slack\.com/(?:services|commands|actions|workflows|triggers)/)[^\s\"'<>]+")
# Sentry DSN: https://<public key>@o1.ingest.sentry.io/1 (the key alone authorises sending events).
_SENTRY_DSN = re.compile(r"(?P<scheme>https?://)[0-9a-f]{16,}(?::[0-9a-f]+)?@(?=[^\s/]*sentry)", re.I)
_COOKIE = re.compile(r"""(?P<name>\b(?:set-)?cookie)(?P<sep>["']?\s*[:=]\s*["']?)[^"'\r\n]+""", re.I)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_PASSWORD = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I)
# NAME=value, NAME: value, "NAME": "value". Only NAME and the separator are matched; the value is
# read only after a secret-looking name, so "crashed: JWT_SECRET=…" still finds the inner pair and the
# scan stays linear. The lookbehind starts names at token boundaries only (else a long run of letters
# is rescanned from every position).
_PAIR = re.compile(r"""(?<![A-Za-z0-9_.-])(?P<name>["']?[A-Za-z_][A-Za-z0-9_.-]*["']?)\s*[:=]\s*""")
_VALUE = re.compile(r"""(?P<q>["']?)(?P<value>[^"'\s,;}&]+)""")

_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value (a token from settings) so it is masked wherever it appears."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def is_secret_name(name: str) -> bool:
    """True when a variable name looks like it holds a secret."""
    bare = name.strip("\"' ")
    if _EXCEPTION_NAME.fullmatch(bare):
        return False
    return bool(_SECRET_NAME.search(bare) or _DB_URL_NAMES.search(bare))


def _mask_pairs(text: str) -> str:
    out, last = [], 0
    for match in _PAIR.finditer(text):
        if match.end() < last or not is_secret_name(match.group("name")):
            continue
        value = _VALUE.match(text, match.end())
        if value is None:
            continue
        out.append(text[last:value.start("value")])
        out.append(MASK)
        last = value.end("value")
    out.append(text[last:])
    return "".join(out)


def redact(text: Any) -> str:
    """Return ``text`` (any object, turned into a string) with every secret masked."""
    s = text if isinstance(text, str) else str(text)
    for secret in _known_secrets:
        if secret in s:
            s = s.replace(secret, MASK)
    s = _SLACK_TOKEN.sub(MASK, s)
    s = _TOKEN_FORMS.sub(MASK, s)
    s = _SLACK_HOOK.sub(lambda m: m.group("keep") + MASK, s)
    s = _SENTRY_DSN.sub(lambda m: f"{m.group('scheme')}{MASK}@", s)
    s = _COOKIE.sub(lambda m: m.group("name") + m.group("sep") + MASK, s)
    s = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", s)
    s = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", s)
    s = _mask_pairs(s)
    return s


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    """Mask the values whose names look secret, and redact the rest as text."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if is_secret_name(name):
            out[name] = MASK
        elif isinstance(value, Mapping):
            out[name] = redact_mapping(value)
        elif isinstance(value, str):
            out[name] = redact(value)
        elif isinstance(value, list):
            out[name] = [redact_mapping(v) if isinstance(v, Mapping) else redact(v) if isinstance(v, str) else v
                         for v in value]
        else:
            out[name] = value
    return out
