"""The backend's CORS rules (target-backend.md §3), as pure functions the target emulator uses.

- the allow-list is built once: fallbacks, then CORS_ORIGINS, CORS_ORIGIN and FRONTEND_URL items each
  pushed to the front (so items come out reversed), deduplicated by hostname, first one wins;
- an origin matches exactly, by hostname without ``www.`` (scheme and port ignored; the response then
  carries the allow-list entry, not the origin), or dynamically (``*.vercel.app``, localhost,
  127.0.0.1 on any port, in production too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

FALLBACK_ORIGINS = ("https://www.ivanreseller.com", "https://ivanreseller.com")
DEV_ORIGINS = ("http://localhost:5173", "http://localhost:3000", "http://127.0.0.1:5173", "http://127.0.0.1:3000")
_PREFIX = re.compile(r"^(CORS_ORIGINS|CORS_ORIGIN|FRONTEND_URL)=", re.I)


def _tokens(raw: str | None) -> list[str]:
    out = []
    for token in (raw or "").split(","):
        token = token.strip()
        if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
            token = token[1:-1]
        token = _PREFIX.sub("", token).rstrip("/")
        if token.startswith(("http://", "https://")):
            out.append(token)
    return out


def hostname(origin: str) -> str:
    try:
        return (urlsplit(origin).hostname or "").lower()
    except ValueError:
        return ""


def _twin(origin: str) -> str:
    parts = urlsplit(origin)
    host = parts.netloc
    twin = host[4:] if host.lower().startswith("www.") else "www." + host
    return f"{parts.scheme}://{twin}"


def build_allowlist(*, cors_origins: str | None, cors_origin: str | None, frontend_url: str | None,
                    production: bool) -> list[str]:
    entries = list(FALLBACK_ORIGINS)
    for raw in (cors_origins, cors_origin):
        for token in _tokens(raw):
            entries.insert(0, token)
    for token in reversed(_tokens(frontend_url)):
        entries[0:0] = [token, _twin(token)]
    if not production:
        entries.extend(DEV_ORIGINS)
    seen: set[str] = set()
    out = []
    for entry in entries:
        host = hostname(entry)
        if host and host not in seen:
            seen.add(host)
            out.append(entry)
    return out


def hosts_without_www(allowlist: list[str]) -> list[str]:
    out: list[str] = []
    for entry in allowlist:
        host = hostname(entry).removeprefix("www.")
        if host not in out:
            out.append(host)
    return out


@dataclass(frozen=True)
class Match:
    rule: str  # exact-match, hostname-match, dynamic, invalid-origin, none
    entry: str | None  # what goes into Access-Control-Allow-Origin

    @property
    def allowed(self) -> bool:
        return self.rule in ("exact-match", "hostname-match", "dynamic")


def match_origin(origin: str, allowlist: list[str]) -> Match:
    trimmed = origin.rstrip("/").lower()
    host = hostname(origin)
    if not origin.lower().startswith(("http://", "https://")) or not host:
        return Match("invalid-origin", None)
    for entry in allowlist:
        if entry.rstrip("/").lower() == trimmed:
            return Match("exact-match", entry)
    bare = host.removeprefix("www.")
    for entry in allowlist:
        if hostname(entry).removeprefix("www.") == bare:
            return Match("hostname-match", entry)
    if host.endswith(".vercel.app") or host in ("localhost", "127.0.0.1"):
        return Match("dynamic", origin)
    return Match("none", None)


def get_allowed(origin: str, match: Match, *, production: bool) -> bool:
    """The stricter ``cors`` package check that non-preflight requests pass after the hand-written layer:
    in production an ``http:`` origin that only matches by domain is refused."""
    if not match.allowed:
        return False
    return not (production and match.rule == "hostname-match" and origin.lower().startswith("http:"))
