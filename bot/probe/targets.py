"""What ``/health <arg>`` may probe.

From Slack the bot probes only configured services: a URL is accepted when its host and port are
those of a configured service, and then the service's own base URL is used with the URL's path
(so nothing but a path is taken from the user). From the operator's terminal any http(s) URL may
be probed. Anything else is refused with a sentence that says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.common.errors import ChatopsError
from bot.common.redact import redact
from bot.config.services import ServicesFile
from bot.i18n import slack_escape, t

_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~/-]{0,200}$")
_ALL = ("", "*", "all")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetError(ChatopsError):
    """A target the bot will not probe; ``message(lang)`` is the sentence for the user."""

    def __init__(self, key: str, **params: str) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message("en", slack=False))

    def message(self, lang: str | None, *, slack: bool = True) -> str:
        """The sentence in ``lang``; ``slack=False`` for a terminal (no mrkdwn escaping)."""
        params = {k: slack_escape(v) for k, v in self.params.items()} if slack else self.params
        return t(self.key, lang, **params)


@dataclass(frozen=True)
class AdHocService:
    """A URL probed from the terminal that belongs to no configured service (never gets the auth header)."""

    name: str
    url: str
    profile: str
    frontend_origins: list[str] = field(default_factory=list)
    configured: bool = False


def _malformed(arg: str) -> TargetError:
    shown = redact(arg)
    return TargetError("health.error.malformed", arg=shown[:60] + ("…" if len(shown) > 60 else ""))


def _unwrap_slack_link(arg: str) -> str:
    """Slack sends links in command text as ``<https://x>`` or ``<https://x|label>``."""
    if arg.startswith("<") and arg.endswith(">"):
        return arg[1:-1].split("|", 1)[0]
    return arg


def split_url(url: str) -> tuple[str, str | None]:
    """(``scheme://host[:port]``, path or None) of an http(s) URL; TargetError when malformed."""
    if any(c.isspace() or ord(c) < 32 for c in url) or len(url) > 300:
        raise _malformed(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _malformed(url) from None
    if (parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None
            or parts.query or parts.fragment):
        raise _malformed(url)
    path = parts.path or "/"
    if not _SAFE_PATH.match(path):
        raise _malformed(url)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    base = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")
    return base, (None if path == "/" else path.rstrip("/") or None)


def _endpoint_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def resolve_targets(arg: str, services: ServicesFile, *, allow_any_url: bool,
                    profile: str = "runbook") -> list[tuple[object, str | None]]:
    """The (service, path or None) pairs ``arg`` asks for: every service, one service, or one URL.

    ``profile`` is used for a URL that belongs to no configured service (terminal only).
    """
    arg = _unwrap_slack_link(arg.strip())
    if arg.lower() in _ALL:
        if not services.services:
            raise TargetError("common.no_services")
        return [(s, None) for s in services.services]
    if re.match(r"^[a-z][a-z0-9+.-]*://", arg, re.I):
        base, path = split_url(arg)
        wanted = _endpoint_of(base)
        for service in services.services:
            if _endpoint_of(service.url) == wanted:
                prefix = urlsplit(service.url).path.rstrip("/")
                if prefix and path and path.startswith(prefix + "/"):
                    path = path[len(prefix):]
                return [(service, path)]
        if not allow_any_url:
            raise TargetError("health.error.refused_url", host=wanted[0], known=_known(services))
        return [(AdHocService(name=wanted[0], url=base, profile=profile), path)]
    if not _SERVICE_NAME.match(arg):
        raise _malformed(arg)
    service = services.service(arg)
    if service is None:
        raise TargetError("common.unknown_service", name=arg, known=_known(services))
    return [(service, None)]


def _known(services: ServicesFile) -> str:
    return ", ".join(services.service_names) or "—"
