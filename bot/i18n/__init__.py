"""The message catalogue: every word the bot shows a person, in English and Spanish.

Each language has one folder in ``bot/i18n/locales/<lang>/``; each TOML file there is a section
(``health.toml`` holds the ``health.*`` keys) mapping keys to Jinja2 template strings. Code never
holds user-facing literals: it calls ``t(key, lang, **vars)``. Longer documents (incident summaries,
postmortems) are whole templates in ``bot/i18n/templates/<lang>/``.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import jinja2

from bot.common.errors import ChatopsError

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"


def slack_escape(value: Any) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_unescape(text: str) -> str:
    """The inverse of ``slack_escape``, for text that arrives escaped: Slack sends a slash command's
    ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;``. ``&amp;`` goes last, so a typed ``&lt;``
    (sent as ``&amp;lt;``) stays ``&lt;``. Unescape once, where text enters; escape once, where it leaves."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def format_duration(seconds: float | None, lang: str = DEFAULT_LANGUAGE) -> str:
    if seconds is None:
        return "—"
    if 0 < seconds < 1:  # "one check every 150 ms", not "every 0 s"
        return f"{max(1, round(seconds * 1000))} ms"
    seconds = round(seconds)
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts = []
    for unit, size in units:
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def slack_date(value: datetime | float | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """A Slack date token: each reader sees the time in their own time zone."""
    if value is None:
        return "—"
    ts = value.timestamp() if isinstance(value, datetime) else float(value)
    fallback = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{fallback}>"


def plain_date(value: datetime | float | None, lang: str = DEFAULT_LANGUAGE) -> str:
    if value is None:
        return "—"
    dt = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    fmt = "%d/%m/%Y %H:%M UTC" if lang == "es" else "%Y-%m-%d %H:%M UTC"
    return dt.astimezone(UTC).strftime(fmt)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.i18n", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["esc"] = slack_escape
    env.filters["ms"] = lambda v: "—" if v is None else f"{float(v):.0f} ms"
    return env


@lru_cache(maxsize=1)
def _html_environment() -> jinja2.Environment:
    """For pages served to browsers and feed readers: every value is HTML/XML-escaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.i18n", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@cache
def catalogue(lang: str) -> dict[str, str]:
    folder = resources.files("bot.i18n").joinpath("locales", lang)
    out: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            section = entry.name.removesuffix(".toml")
            out.update(_flatten(tomllib.loads(entry.read_text(encoding="utf-8")), section + "."))
    return out


def _flatten(data: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = str(value)
    return out


@lru_cache(maxsize=4096)
def _compiled(lang: str, key: str) -> jinja2.Template:
    try:
        source = catalogue(lang)[key]
    except KeyError:
        raise KeyError(f"message {key!r} missing from the {lang!r} catalogue") from None
    return _environment().from_string(source)


def normalise_language(lang: str | None) -> str:
    if not lang:
        return DEFAULT_LANGUAGE
    short = lang.replace("-", "_").split("_")[0].lower()
    return short if short in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str | None = None, /, **variables: Any) -> str:
    """Render one catalogue message in ``lang``."""
    lang = normalise_language(lang)
    variables.setdefault("lang", lang)
    return _compiled(lang, key).render(
        duration=lambda s: format_duration(s, lang),
        slack_date=lambda v: slack_date(v, lang),
        plain_date=lambda v: plain_date(v, lang),
        **variables,
    )



class CatalogueError(ChatopsError):
    """An error whose sentence is a catalogue key: English in logs and the audit, each reader's own
    language through ``message(lang)``."""

    def __init__(self, key: str, **variables: Any) -> None:
        self.key = key
        self.variables = variables
        super().__init__(t(key, "en", **variables))

    def message(self, lang: str | None) -> str:
        return t(self.key, lang, **self.variables)

def render_page(name: str, lang: str | None = None, /, **variables: Any) -> str:
    """Render a whole HTML or XML template, autoescaped (``t`` results are escaped too)."""
    lang = normalise_language(lang)
    template = _html_environment().get_template(f"{lang}/{name}")
    return template.render(
        lang=lang,
        t=lambda key, **kw: t(key, lang, **kw),
        plain_date=lambda v: plain_date(v, lang),
        **variables,
    )


def render_document(name: str, lang: str | None = None, /, **variables: Any) -> str:
    """Render a whole template (``bot/i18n/templates/<lang>/<name>``)."""
    lang = normalise_language(lang)
    template = _environment().get_template(f"{lang}/{name}")
    return template.render(
        lang=lang,
        t=lambda key, **kw: t(key, lang, **kw),
        duration=lambda s: format_duration(s, lang),
        slack_date=lambda v: slack_date(v, lang),
        plain_date=lambda v: plain_date(v, lang),
        **variables,
    )
