"""Typed failures of the Railway API, each carrying a sentence a Slack user can act on.

``str(err)`` is rendered from the ``railway.errors.*`` catalogue keys and redacted.
"""

from __future__ import annotations

from typing import Any

from bot.common.errors import ChatopsError
from bot.common.redact import redact
from bot.i18n import t


class RailwayError(ChatopsError):
    """Railway answered with a GraphQL error the bot has no specific advice for."""

    key = "railway.errors.rejected"

    def __init__(self, *, lang: str = "en", **variables: Any) -> None:
        self.lang = lang
        self.variables = variables
        super().__init__(redact(t(self.key, lang, **variables)))


class RailwayNotAuthorized(RailwayError):
    """HTTP 200 + "Not Authorized": dead token, no access, or a project token where one can't be used."""

    def __init__(self, *, project_token: bool, lang: str = "en") -> None:
        self.project_token = project_token
        self.key = "railway.errors.not_authorized_project" if project_token else "railway.errors.not_authorized_api"
        super().__init__(lang=lang)


class RailwayProjectTokenNotFound(RailwayError):
    key = "railway.errors.project_token_not_found"


class RailwayNotFound(RailwayError):
    """Something asked for by id does not exist (or is invisible to this token)."""

    key = "railway.errors.not_found"


class RailwayNameNotFound(RailwayNotFound):
    """No project / environment / service with the configured name is visible to the token."""

    key = "railway.errors.not_found_named"

    def __init__(self, *, kind: str, name: str, lang: str = "en") -> None:
        self.kind = kind
        self.name = name
        super().__init__(lang=lang, kind=t(f"railway.kinds.{kind}", lang), name=name, field=f"{kind}_id")


class RailwayRateLimited(RailwayError):
    key = "railway.errors.rate_limited"

    def __init__(self, *, retry_after: float | None, lang: str = "en") -> None:
        self.retry_after = retry_after
        super().__init__(lang=lang, retry_after=retry_after)


class RailwayServerError(RailwayError):
    """HTTP 5xx, or no HTTP answer at all (``status`` None). ``ambiguous``: a mutation may have run."""

    key = "railway.errors.server_error"

    def __init__(self, *, status: int | None, ambiguous: bool = False, lang: str = "en") -> None:
        self.status = status
        self.ambiguous = ambiguous
        super().__init__(lang=lang, status=status, ambiguous=ambiguous)


class RailwayTimeout(RailwayError):
    key = "railway.errors.timeout"

    def __init__(self, *, seconds: float, ambiguous: bool = False, lang: str = "en") -> None:
        self.seconds = seconds
        self.ambiguous = ambiguous
        super().__init__(lang=lang, seconds=seconds, ambiguous=ambiguous)


class RailwayMalformedAnswer(RailwayError):
    """Not JSON (e.g. a Cloudflare HTML page), or JSON without the expected data."""

    key = "railway.errors.malformed"


class RailwayOutsideProjectToken(RailwayError):
    """The configured service lies outside the one project/environment a project token reaches."""

    key = "railway.errors.outside_project_token"
