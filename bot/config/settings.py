"""Process settings from environment variables (and a ``.env`` file when present).

Read as pydantic-settings would (a ``.env`` file, then the environment over it, then explicit
overrides; names case-sensitive; unknown names ignored) without importing it: it loads every cloud
provider's settings source, 5.6 MB of the serving process's memory for a dozen variables (#17)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.common.errors import ConfigError
from bot.common.redact import register_secret
from bot.config.model import Invalid, Record, rule, validates

SLACK_DEFAULT_API_URL = "https://slack.com/api/"
RAILWAY_DEFAULT_API_URL = "https://backboard.railway.com/graphql/v2"

# What each variable expects, for the one-line startup error.
_EXPECTS = {
    "SLACK_BOT_TOKEN": "a bot token starting with xoxb-",
    "SLACK_SIGNING_SECRET": "the app's signing secret (Basic Information → App Credentials)",
    "SLACK_APP_TOKEN": "an app-level token starting with xapp- (Socket Mode)",
    "SLACK_API_URL": "an http(s) URL of the Slack Web API, ending in /api/",
    "DATABASE_URL": "sqlite:///path.db, sqlite+aiosqlite:///path.db, postgres://… or postgresql://…",
    "RAILWAY_API_URL": "the http(s) URL of Railway's GraphQL endpoint",
    "PORT": "a TCP port number between 1 and 65535",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "CHATOPS_CONFIG": "the path of the services file (TOML)",
    "CHATOPS_LANGUAGE": "en or es",
}


ENV_FILE = Path(".env")


@dataclass(kw_only=True)
class Settings(Record):
    extra = "ignore"

    SLACK_BOT_TOKEN: str | None = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: str | None = None
    SLACK_API_URL: str = SLACK_DEFAULT_API_URL
    DATABASE_URL: str = "sqlite:///chatops.db"
    RAILWAY_API_URL: str = RAILWAY_DEFAULT_API_URL
    RAILWAY_API_TOKEN: str | None = None
    RAILWAY_TOKEN: str | None = None
    PORT: int = rule(default=3000, ge=1, le=65535)
    LOG_LEVEL: str = "INFO"
    CHATOPS_CONFIG: Path = Path("chatops.toml")
    # Terminal output's language: CHATOPS_LANGUAGE, else the system locale (LC_ALL, LC_MESSAGES, LANG).
    CHATOPS_LANGUAGE: str = rule(default_factory=lambda: system_language())
    # Auth header sent to /api/system/health/detailed in the runbook profile (e.g. "Bearer …").
    CHATOPS_HEALTH_AUTH: str | None = None
    # Secret path token for Railway deployment webhooks (unsigned by Railway).
    CHATOPS_WEBHOOK_TOKEN: str | None = None
    # Secret path token for alerts from Alertmanager, UptimeRobot and others (``POST /alerts/<source>/<token>``).
    CHATOPS_ALERTS_TOKEN: str | None = None
    # Health probes: each endpoint's timeout, and the bound on a whole report (seconds).
    CHATOPS_PROBE_TIMEOUT_SECONDS: float = rule(default=5.0, gt=0)
    CHATOPS_PROBE_BUDGET_SECONDS: float = rule(default=8.0, gt=0)
    # Following a rollback's new deployment: poll interval and bound (seconds).
    CHATOPS_FOLLOW_POLL_SECONDS: float = rule(default=2.0, gt=0)
    CHATOPS_FOLLOW_TIMEOUT_SECONDS: float = rule(default=600.0, gt=0)
    # The bot's PostgreSQL: how long one statement may take (PostgreSQL's statement_timeout, and asyncpg's
    # command_timeout a second later for a server that accepts connections but never answers) and the
    # wait for a pooled connection. A write that runs out of time is kept or retried, never lost.
    CHATOPS_DB_TIMEOUT_SECONDS: float = rule(default=10.0, gt=0)
    # Audit rows the database refuses even after repair, or still queued at shutdown (JSON lines).
    CHATOPS_AUDIT_SPILL_PATH: Path = Path("chatops-audit-spill.jsonl")
    # The HTTP server: a connection must send complete request headers within HEADER seconds (of
    # connecting, or of its previous answer: the keep-alive idle limit too) and a whole body within
    # BODY seconds; at most MAX_CONNECTIONS are open at once (more are answered 503 and closed).
    CHATOPS_HTTP_HEADER_TIMEOUT_SECONDS: float = rule(default=10.0, gt=0)
    CHATOPS_HTTP_BODY_TIMEOUT_SECONDS: float = rule(default=10.0, gt=0)
    CHATOPS_HTTP_MAX_CONNECTIONS: int = rule(default=256, ge=1)
    # How long one Slack Web API call may take before it is abandoned (and retried or reported).
    CHATOPS_SLACK_TIMEOUT_SECONDS: float = rule(default=10.0, gt=0)
    # How long one Railway API call may take (a mutation that times out is never retried).
    CHATOPS_RAILWAY_TIMEOUT_SECONDS: float = rule(default=15.0, gt=0)
    # Work queue behind the acks.
    CHATOPS_WORKERS: int = rule(default=10, ge=1, le=200)
    CHATOPS_QUEUE_SIZE: int = rule(default=500, ge=1)
    # Charts: on or off, and the bounds of the worker process that draws them.
    CHATOPS_CHARTS: bool = True
    CHATOPS_CHART_TIMEOUT_SECONDS: float = rule(default=10.0, gt=0)
    CHATOPS_CHART_MEMORY_MB: int = rule(default=512, ge=128)

    @validates("SLACK_BOT_TOKEN")
    def _bot_token(v: str | None) -> str | None:
        if v and not v.startswith("xoxb-"):
            raise ValueError("bad prefix")
        return v

    @validates("SLACK_APP_TOKEN")
    def _app_token(v: str | None) -> str | None:
        if v and not v.startswith("xapp-"):
            raise ValueError("bad prefix")
        return v

    @validates("SLACK_API_URL", "RAILWAY_API_URL")
    def _http_url(v: str) -> str:
        if urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).netloc:
            raise ValueError("not an http(s) URL")
        return v

    @validates("SLACK_API_URL")
    def _trailing_slash(v: str) -> str:
        return v if v.endswith("/") else v + "/"

    @validates("DATABASE_URL")
    def _db_url(v: str) -> str:
        database_url_for_sqlalchemy(v)
        return v

    @validates("LOG_LEVEL")
    def _level(v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("unknown level")
        return v.upper()

    @validates("CHATOPS_LANGUAGE")
    def _lang(v: str) -> str:
        lang = v.split("_")[0].split(".")[0].lower()
        if lang not in ("en", "es"):
            raise ValueError("unsupported language")
        return lang

    @property
    def sqlalchemy_url(self) -> str:
        return database_url_for_sqlalchemy(self.DATABASE_URL)[0]

    @property
    def sqlalchemy_connect_args(self) -> dict:
        return database_url_for_sqlalchemy(self.DATABASE_URL)[1]

    @property
    def is_postgres(self) -> bool:
        return self.sqlalchemy_url.startswith("postgresql+asyncpg")


def system_language() -> str:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX"):
            return "es" if value.lower().startswith("es") else "en"
    return "en"


def database_url_for_sqlalchemy(url: str) -> tuple[str, dict]:
    """Turn a DATABASE_URL as people and Railway write it into an async SQLAlchemy URL.

    ``postgres://`` and ``postgresql://`` are driven by asyncpg; libpq's ``sslmode`` becomes
    asyncpg's ``ssl`` connect argument since asyncpg rejects the libpq spelling.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return "sqlite+aiosqlite" + url[len(parts.scheme):], {}
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        query = dict(parse_qsl(parts.query))
        connect_args: dict = {}
        sslmode = query.pop("sslmode", None)
        if sslmode in ("require", "verify-ca", "verify-full"):
            connect_args["ssl"] = "require" if sslmode == "require" else True
        elif sslmode == "disable":
            connect_args["ssl"] = False
        if not parts.hostname and not query.get("host"):
            raise ValueError("no host")
        return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), "")), connect_args
    raise ValueError("unsupported scheme")


def settings_sources(env_file: str | Path | None) -> dict[str, str]:
    """The variables the settings name: from ``env_file`` when it exists, the environment over them."""
    names = {f.name for f in fields(Settings)}
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values

        values.update((k, v) for k, v in dotenv_values(env_file, encoding="utf-8").items()
                      if k in names and v is not None)
    values.update((k, v) for k, v in os.environ.items() if k in names)
    return values


def load_settings(_env_file: str | Path | None = ENV_FILE, **overrides: object) -> Settings:
    """Read settings; a bad one raises ConfigError naming the variable, never its value."""
    try:
        settings = Settings.parse({**settings_sources(_env_file), **overrides})
    except Invalid as exc:
        name = str(exc.loc[0]) if exc.loc else "settings"
        expects = _EXPECTS.get(name, "a valid value")
        raise ConfigError(f"{name} is malformed: expected {expects}.") from None
    for secret in (settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET, settings.SLACK_APP_TOKEN,
                   settings.RAILWAY_API_TOKEN, settings.RAILWAY_TOKEN, settings.CHATOPS_HEALTH_AUTH,
                   settings.CHATOPS_WEBHOOK_TOKEN, settings.CHATOPS_ALERTS_TOKEN):
        register_secret(secret)
    return settings


def require(settings: Settings, *names: str) -> None:
    """Stop with one clear line when a setting a command needs is missing."""
    for name in names:
        if not getattr(settings, name):
            raise ConfigError(f"{name} is not set: expected {_EXPECTS.get(name, 'a value')}.")
