"""The services file (TOML): which services the bot watches and who may approve what.

Validated at startup; an error names the file, the key (and line where TOML gives one) and the
problem.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bot.common.errors import ConfigError
from bot.config.model import Invalid, Record, rule, validates

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")


@dataclass(frozen=True, kw_only=True)
class _Model(Record):
    extra = "ignore"


@dataclass(frozen=True, kw_only=True)
class RailwayRef(_Model):
    project_id: str | None = None
    environment_id: str | None = None
    service_id: str | None = None
    # Names, for when ids are not known: resolved through the API (list and match).
    project: str | None = None
    environment: str | None = None
    service: str | None = None


_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"


@dataclass(frozen=True, kw_only=True)
class CleanupTarget(_Model):
    """One cleanup's table and columns. Identifiers only (letters, digits, ``_``): they are quoted into
    the DELETE statement, so nothing else may reach it."""

    extra = "forbid"

    table: str = rule(pattern=_IDENTIFIER)
    column: str = rule(pattern=_IDENTIFIER)
    older_than: str = rule(default="30d", pattern=r"^[1-9]\d{0,3}[dh]$")
    status_column: str | None = rule(default=None, pattern=_IDENTIFIER)
    status_value: str | None = rule(default=None, max_length=100)


@dataclass(frozen=True, kw_only=True)
class Cleanup(_Model):
    """``cleanup`` of a service: the runbook's two cleanups (``DELETE FROM logs WHERE created_at < NOW() -
    INTERVAL '30 days'``; ``DELETE FROM job WHERE status = 'failed' AND updated_at < NOW() - INTERVAL
    '7 days'``) and how the batches run."""

    extra = "forbid"

    logs: CleanupTarget = CleanupTarget(table="logs", column="created_at", older_than="30d")
    jobs: CleanupTarget = CleanupTarget(table="job", column="updated_at", older_than="7d", status_column="status",
                                        status_value="failed")
    batch_rows: int = rule(default=5000, ge=1, le=50_000)
    pause_seconds: float = rule(default=0.5, ge=0, le=60)
    statement_timeout_ms: int = rule(default=5000, ge=100, le=600_000)
    lock_timeout_ms: int = rule(default=2000, ge=10, le=60_000)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig(_Model):
    name: str = rule(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    url: str
    profile: str = "runbook"
    frontend_origins: list[str] = rule(default_factory=list)
    railway: RailwayRef | None = None
    database_service_id: str | None = None
    cleanup: Cleanup = Cleanup()
    # The Railway Redis service this service uses (the redis playbook compares REDIS_URL with its own).
    redis_service_id: str | None = None

    @validates("url")
    def _url(v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return v.rstrip("/")

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True, kw_only=True)
class Approvals(_Model):
    approvers: list[str] = rule(default_factory=list)
    allow_self_approval: bool = False
    ttl_minutes: int = rule(default=30, ge=1, le=24 * 60)


@dataclass(frozen=True, kw_only=True)
class IncidentsTable(_Model):
    """``[incidents]``: where incidents are announced, who is invited, and who is paged. Unknown keys are
    refused, so a typo (``on_call``) stops startup instead of silently paging nobody."""

    extra = "forbid"

    channel: str | None = None
    responders: list[str] = rule(default_factory=list)
    # Paged by direct message, in this order, while a SEV1/SEV2 stays unacknowledged.
    oncall: list[str] = rule(default_factory=list)
    # Minutes without an acknowledgement before the next person is paged (fractions allowed: 0.05 = 3 s).
    escalate_after_minutes: float = rule(default=5, gt=0, le=24 * 60)

    @validates("oncall")
    def _user_ids(v: list[str]) -> list[str]:
        for ref in v:
            if not _USER_ID.fullmatch(ref):
                raise ValueError(f"{ref!r} is not a Slack user id (U… or W…): people are paged one by one")
        if len(set(v)) != len(v):
            raise ValueError("a person appears twice")
        return v


@dataclass(frozen=True, kw_only=True)
class MonitorTable(_Model):
    """``[monitor]``: probe cadence and hysteresis, metric thresholds, recovery window, leader lease.

    Unknown keys are refused, so a typo stops startup instead of silently keeping a default."""

    extra = "forbid"

    enabled: bool = True
    interval_seconds: float = rule(default=60, gt=0)
    failures_to_open: int = rule(default=2, ge=1)
    successes_to_resolve: int = rule(default=2, ge=1)
    metrics_interval_seconds: float = rule(default=180, gt=0)
    threshold_percent: float = rule(default=80, gt=0, le=100)
    # Healthy for this long (and ``successes_to_resolve`` probes): the monitor proposes resolving.
    recovery_seconds: float = rule(default=300, ge=0)
    deploy_poll_seconds: float = rule(default=30, gt=0)
    # The leader renews every third of this; another replica takes over at most this long after it dies.
    lease_seconds: float = rule(default=30, gt=0, le=60)
    # Slack: at most one edit of a channel's summary per this many seconds.
    summary_interval_seconds: float = rule(default=1.0, ge=0)
    # Rounds check readiness and the live database check; every N-th round (and while a service fails)
    # checks its whole profile.
    full_check_every: int = rule(default=10, ge=1)
    # Probes the monitor runs at once (its own bound: slash commands have their own pool).
    max_concurrent_probes: int = rule(default=50, ge=1, le=1000)


@dataclass(frozen=True, kw_only=True)
class AlertsTable(_Model):
    """``[alerts]``: how alerts from other monitors name their service. Unknown keys are refused."""

    extra = "forbid"

    # The Alertmanager label that holds the service's name (as in ``[[services]] name``).
    service_label: str = rule(default="service", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True, kw_only=True)
class StatusPageTable(_Model):
    """``[status_page]``: the public page (``GET /status``). Off unless enabled; unknown keys are refused."""

    extra = "forbid"

    enabled: bool = False
    title: str = rule(default="Status", min_length=1, max_length=120)
    language: Literal["en", "es"] | None = None  # default: [i18n] language
    # The services shown, in this order: service name → the name the public sees.
    services: dict[str, str] = rule(default_factory=dict)

    @validates("services")
    def _public_names(v: dict[str, str]) -> dict[str, str]:
        for name, public in v.items():
            if not public.strip() or len(public) > 80:
                raise ValueError(f"the public name of {name!r} must be 1 to 80 characters")
        return v


@dataclass(frozen=True, kw_only=True)
class I18n(_Model):
    language: Literal["en", "es"] = "en"
    channels: dict[str, Literal["en", "es"]] = rule(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ServicesFile(_Model):
    services: list[ServiceConfig] = rule(default_factory=list)
    approvals: Approvals = Approvals()
    incidents: IncidentsTable = IncidentsTable()
    monitor: MonitorTable = MonitorTable()
    alerts: AlertsTable = AlertsTable()
    status_page: StatusPageTable = StatusPageTable()
    i18n: I18n = I18n()
    path: Path | None = None

    @validates("services")
    def _unique(v: list[ServiceConfig]) -> list[ServiceConfig]:
        seen: set[str] = set()
        for s in v:
            if s.name in seen:
                raise ValueError(f"service name {s.name!r} appears twice")
            seen.add(s.name)
        return v

    def check(self) -> None:
        page = self.status_page
        unknown = [name for name in page.services if self.service(name) is None]
        if unknown:
            raise ValueError(f"status_page.services: {unknown[0]!r} is not a service in [[services]]")
        if page.enabled and not page.services:
            raise ValueError("status_page.services: list at least one service to show when enabled")

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)

    def service_for_host(self, host: str) -> ServiceConfig | None:
        host = host.lower()
        return next((s for s in self.services if s.host == host), None)

    @property
    def service_names(self) -> list[str]:
        return [s.name for s in self.services]


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_services(text: str, source: str = "<services>") -> ServicesFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return ServicesFile.parse(data)
    except Invalid as exc:
        raise ConfigError(f"{source}: {_key_path(exc.loc) or 'file'}: {exc.msg}") from None


def load_services(path: Path, *, required: bool) -> ServicesFile:
    """Load the services file; a missing default file gives an empty configuration."""
    if not path.exists():
        if required:
            raise ConfigError(f"{path}: the services file does not exist (CHATOPS_CONFIG).")
        return ServicesFile()
    cfg = parse_services(path.read_text(encoding="utf-8"), str(path))
    return replace(cfg, path=path)
