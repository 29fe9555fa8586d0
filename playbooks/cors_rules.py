"""How the real backend reads its CORS variables and matches an Origin (target-backend.md §3).

Kept apart from the target emulator on purpose: the playbook predicts the backend's answer from
Railway's variables, and the tests hold that prediction against the emulator's live answers.

- Tokens: comma-separated only; trimmed; one pair of surrounding quotes removed; a leading
  ``CORS_ORIGIN=`` / ``CORS_ORIGINS=`` / ``FRONTEND_URL=`` removed; trailing ``/`` removed; only
  tokens starting with ``http://`` or ``https://`` are kept. No wildcards: ``*`` is dropped and
  ``https://*.foo.com`` is kept as a literal host that matches nothing.
- Order: ``FRONTEND_URL`` (plus its www/apex twin), then ``CORS_ORIGIN``, then ``CORS_ORIGINS``
  items (each variable's items reversed), then the two built-in origins; outside production the
  localhost ports are appended. Duplicates by host name are dropped, the first one wins.
- Match: exact (case-insensitive, trailing slash ignored); else by host name without ``www.``
  (scheme and port ignored, and the response carries the allow-list entry, which browsers refuse);
  else any ``*.vercel.app``, ``localhost`` or ``127.0.0.1`` origin (in production too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

BUILT_IN = ("https://www.ivanreseller.com", "https://ivanreseller.com")
NON_PRODUCTION = ("http://localhost:5173", "http://localhost:3000", "http://127.0.0.1:5173", "http://127.0.0.1:3000")
VARIABLES = ("CORS_ORIGIN", "CORS_ORIGINS", "FRONTEND_URL")
_PREFIX = re.compile(r"^(CORS_ORIGINS|CORS_ORIGIN|FRONTEND_URL)=", re.I)

# Why a token of a variable does nothing.
DROPPED_WILDCARD = "wildcard"  # "*" alone: dropped
LITERAL_WILDCARD = "literal_wildcard"  # "https://*.foo.com": kept, matches nothing
NO_SCHEME = "no_scheme"  # "www.foo.com": dropped
NOT_COMMA = "not_comma"  # "https://a.com https://b.com" or "a;b": one broken token


@dataclass(frozen=True)
class TokenIssue:
    variable: str
    token: str
    kind: str


@dataclass(frozen=True)
class Allowlist:
    entries: list[str]
    production: bool
    issues: list[TokenIssue] = field(default_factory=list)


@dataclass(frozen=True)
class Match:
    rule: str  # exact-match | hostname-match | dynamic | invalid-origin | none
    entry: str | None  # the Access-Control-Allow-Origin value the backend sends

    @property
    def works_in_browser(self) -> bool:
        """Allowed, and the browser accepts the Access-Control-Allow-Origin it gets back."""
        return self.rule in ("exact-match", "dynamic")


def host(origin: str) -> str:
    try:
        return (urlsplit(origin).hostname or "").lower()
    except ValueError:
        return ""


def normalise_origin(origin: str) -> str:
    """An origin as a browser sends it: lower-case scheme and host, no path, no trailing slash."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return origin.strip().rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def parse_tokens(variable: str, raw: str | None) -> tuple[list[str], list[TokenIssue]]:
    kept: list[str] = []
    issues: list[TokenIssue] = []
    for piece in (raw or "").split(","):
        token = piece.strip()
        if not token:
            continue
        if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
            token = token[1:-1]
        token = _PREFIX.sub("", token).rstrip("/")
        if not token.startswith(("http://", "https://")):
            kind = DROPPED_WILDCARD if "*" in token else NO_SCHEME
            issues.append(TokenIssue(variable, token, kind))
            continue
        if re.search(r"[\s;]", token):
            issues.append(TokenIssue(variable, token, NOT_COMMA))
        elif "*" in token:
            issues.append(TokenIssue(variable, token, LITERAL_WILDCARD))
        kept.append(token)
    return kept, issues


def _twin(origin: str) -> str:
    parts = urlsplit(origin)
    netloc = parts.netloc
    twin = netloc[4:] if netloc.lower().startswith("www.") else "www." + netloc
    return f"{parts.scheme}://{twin}"


def is_production(env: Mapping[str, str]) -> bool:
    """The backend's Dockerfile sets NODE_ENV=production; a Railway variable can override it."""
    return env.get("NODE_ENV", "production").strip() == "production"


def build(env: Mapping[str, str]) -> Allowlist:
    """The allow-list the backend builds at start-up from these variables."""
    production = is_production(env)
    entries = list(BUILT_IN)
    issues: list[TokenIssue] = []
    for variable in ("CORS_ORIGINS", "CORS_ORIGIN"):
        tokens, found = parse_tokens(variable, env.get(variable))
        issues += found
        for token in tokens:
            entries.insert(0, token)
    tokens, found = parse_tokens("FRONTEND_URL", env.get("FRONTEND_URL"))
    issues += found
    for token in reversed(tokens):
        entries[0:0] = [token, _twin(token)]
    if not production:
        entries += NON_PRODUCTION
    seen: set[str] = set()
    unique = []
    for entry in entries:
        name = host(entry)
        if name and name not in seen:
            seen.add(name)
            unique.append(entry)
    return Allowlist(unique, production, issues)


def match(origin: str, allowlist: Allowlist) -> Match:
    name = host(origin)
    if not origin.lower().startswith(("http://", "https://")) or not name:
        return Match("invalid-origin", None)
    trimmed = origin.rstrip("/").lower()
    for entry in allowlist.entries:
        if entry.rstrip("/").lower() == trimmed:
            return Match("exact-match", entry)
    bare = name.removeprefix("www.")
    for entry in allowlist.entries:
        if host(entry).removeprefix("www.") == bare:
            return Match("hostname-match", entry)
    if name.endswith(".vercel.app") or name in ("localhost", "127.0.0.1"):
        return Match("dynamic", origin)
    return Match("none", None)


def target_variable(env: Mapping[str, str]) -> str:
    """Where a missing origin should go: the variable already in use, CORS_ORIGIN by default."""
    if env.get("CORS_ORIGIN", "").strip() or not env.get("CORS_ORIGINS", "").strip():
        return "CORS_ORIGIN"
    return "CORS_ORIGINS"


def suggested_value(env: Mapping[str, str], variable: str, add: list[str]) -> str:
    """The variable's current good tokens (cleaned, order kept) plus ``add``, comma-separated."""
    tokens, _ = parse_tokens(variable, env.get(variable))
    good = [tok for tok in tokens if "*" not in tok and not re.search(r"[\s;]", tok)]
    for origin in add:
        if origin.lower() not in {tok.lower() for tok in good}:
            good.append(origin)
    return ",".join(good)
