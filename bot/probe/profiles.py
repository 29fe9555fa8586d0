"""Health profiles: which endpoints a service has and what healthy looks like, as TOML data.

Built-in profiles live in ``bot/config/profiles/<name>.toml``; a service may instead name its own file
(``profile = "ops/my-backend.toml"``, relative to the services file). A profile is validated when
loaded, and a mistake names the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from bot.common.errors import ConfigError
from bot.config.model import Invalid, Record, rule, validates
from bot.i18n import catalogue

Verdict = Literal["ok", "degraded", "down"]
Role = Literal["liveness", "readiness", "db", "redis", "cors", "config", "version", "detail", "load"]
_TYPES = frozenset({"string", "number", "integer", "bool", "object", "array", "null", "any"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True, kw_only=True)
class Rule(Record):
    """When a response matches (status, body field or header), it decides the endpoint's verdict.

    ``equals`` is a value or a list of accepted values; ``not_in`` matches any value outside a list.
    Among matching rules the highest ``priority`` wins, and it is also how the service picks its
    reason when several endpoints have one.
    """

    status: list[int] = rule(default_factory=list)
    field: str | None = None
    header: str | None = None
    equals: Any = None
    not_in: list[Any] | None = None
    verdict: Verdict
    reason: str
    diagnose: str | None = rule(default=None, pattern=r"^[a-z][a-z0-9_-]*$")
    priority: int = rule(default=50, ge=0, le=100)

    def check(self) -> None:
        if self.field and self.header:
            raise ValueError("a rule looks at a body field or a header, not both")
        if (self.field or self.header) and self.equals is None and self.not_in is None:
            raise ValueError("a rule on a field or header needs equals or not_in")
        if not (self.field or self.header or self.status):
            raise ValueError("a rule needs status, field or header")

    @validates("reason")
    def _known_reason(v: str) -> str:
        known = reason_codes()
        if v not in known:
            raise ValueError(f"unknown reason {v!r}; known: {', '.join(sorted(known))}")
        return v


WATCH_ROLES = ("readiness", "db")


@dataclass(frozen=True, kw_only=True)
class Endpoint(Record):
    path: str = rule(pattern=r"^/[A-Za-z0-9._~/-]*$")
    method: Literal["GET", "HEAD"] = "GET"
    role: Role
    # Send the operator's auth header (CHATOPS_HEALTH_AUTH) with this request.
    auth: bool = False
    expect_status: list[int] = rule(default_factory=lambda: [200])
    # The body must be JSON (checked on the expected statuses).
    json_body: bool = rule(default=True, alias="json")
    # Required keys (dotted paths) and their types, e.g. {"build.gitSha" = "string|null"}.
    shape: dict[str, str] = rule(default_factory=dict)
    # Values worth showing, by name: {"gitSha" = "build.gitSha"}.
    fields: dict[str, str] = rule(default_factory=dict)
    rules: list[Rule] = rule(default_factory=list)
    # What to run when this endpoint fails and no rule names a playbook.
    diagnose: str | None = rule(default=None, pattern=r"^[a-z][a-z0-9_-]*$")
    # When this path answers 404, probe that one instead and say so (runbook drift).
    replaced_by: str | None = None
    # Probed only as another endpoint's replacement.
    on_demand: bool = False
    # Also GET this path once per frontend origin of the service, with that Origin header.
    origin_check: bool = False
    # What the runbook promises this endpoint answers, by field name (of ``fields``): another value is
    # reported as drift, not as a failure. E.g. {status = "healthy"}.
    promises: dict[str, Any] = rule(default_factory=dict)
    # The runbook promises CORS headers here: checked once with the service's first frontend origin,
    # and their absence is reported as drift.
    promises_cors: bool = False
    # For people reading the TOML.
    note: str = ""

    def check(self) -> None:
        unknown = [k for k in self.promises if k not in self.fields]
        if unknown:
            raise ValueError(f"promises.{unknown[0]}: name a key of fields")

    @validates("shape")
    def _types(v: dict[str, str]) -> dict[str, str]:
        for key, spec in v.items():
            bad = [t for t in spec.split("|") if t not in _TYPES]
            if bad:
                raise ValueError(f"shape.{key}: unknown type {bad[0]!r}; use {', '.join(sorted(_TYPES))}")
        return v


@dataclass(frozen=True, kw_only=True)
class Profile(Record):
    name: str = rule(pattern=_NAME.pattern)
    description: str = ""
    # Rules applied to every endpoint (e.g. the X-Degraded overload header).
    rules: list[Rule] = rule(default_factory=list)
    endpoints: list[Endpoint] = rule(min_length=1)

    def check(self) -> None:
        paths = [e.path for e in self.endpoints]
        if len(set(paths)) != len(paths):
            raise ValueError("an endpoint path appears twice")
        for e in self.endpoints:
            if e.replaced_by and e.replaced_by not in paths:
                raise ValueError(f"{e.path}: replaced_by {e.replaced_by!r} is not an endpoint of this profile")
        if not any(e.role == "liveness" and not e.on_demand for e in self.endpoints):
            raise ValueError("a profile needs at least one liveness endpoint")

    def endpoint(self, path: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.path == path), None)

    @property
    def probed(self) -> list[Endpoint]:
        return [e for e in self.endpoints if not e.on_demand]

    @property
    def watched(self) -> list[Endpoint]:
        """What a monitor round checks while all is well: readiness and the live database check (a
        process can be ready while its database died after boot); liveness when the profile has neither."""
        chosen = [e for e in self.probed if e.role in WATCH_ROLES]
        return chosen or [e for e in self.probed if e.role == "liveness"]


@lru_cache(maxsize=1)
def reason_codes() -> frozenset[str]:
    prefix = "health.reason."
    return frozenset(k.removeprefix(prefix) for k in catalogue("en") if k.startswith(prefix))


@lru_cache(maxsize=1)
def _builtin_names() -> tuple[str, ...]:
    """The package's profile files, listed once (their contents are cached too, ``_builtin``):
    ``load_profile`` runs for every probe, and listing the folder cost ~21 µs of CPU each time, 4% of a
    light monitor round's profile (bench/RESULTS.md, "Probe CPU")."""
    folder = resources.files("bot.config").joinpath("profiles")
    return tuple(sorted(e.name.removesuffix(".toml") for e in folder.iterdir() if e.name.endswith(".toml")))


def builtin_profiles() -> list[str]:
    return list(_builtin_names())


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_profile(text: str, source: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return Profile.parse(data)
    except Invalid as exc:
        raise ConfigError(f"{source}: {_key_path(exc.loc) or 'profile'}: {exc.msg}") from None


@lru_cache(maxsize=16)
def _builtin(name: str) -> Profile:
    entry = resources.files("bot.config").joinpath("profiles", f"{name}.toml")
    return parse_profile(entry.read_text(encoding="utf-8"), f"profile {name}")


@lru_cache(maxsize=64)
def _from_file(path: Path, mtime_ns: int) -> Profile:
    return parse_profile(path.read_text(encoding="utf-8"), str(path))


def load_profile(ref: str, base: Path | None = None) -> Profile:
    """A built-in profile by name, or a TOML file by path (relative paths start at ``base``)."""
    if _NAME.match(ref) and not ref.endswith(".toml"):
        if ref not in _builtin_names():
            raise ConfigError(f"unknown health profile {ref!r}: built-in profiles are "
                              f"{', '.join(builtin_profiles())}, or give the path of a .toml file.")
        return _builtin(ref)
    path = Path(ref).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        return _from_file(path.resolve(), path.stat().st_mtime_ns)
    except OSError:
        raise ConfigError(f"{path}: the health profile file cannot be read.") from None


def check_profiles(services: Any) -> None:
    """Load every service's profile once (at startup), so a bad one stops the bot with a clear line."""
    base = services.path.parent if getattr(services, "path", None) else None
    for service in services.services:
        try:
            load_profile(service.profile, base)
        except ConfigError as exc:
            raise ConfigError(f"service {service.name!r}: {exc}") from None
