"""What a health probe found: plain, frozen data shared by the engine, the renderers and the store.

Everything here is language-neutral: verdicts, failures and reasons are codes; ``detail`` is a short
technical fact ("HTTP 503 status=loading", "database=FAIL"). Words for people come from the
message catalogue at render time. Strings taken from response bodies are already redacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# "skipped": not requested (an endpoint that needs auth, without CHATOPS_HEALTH_AUTH).
ENDPOINT_VERDICTS = ("ok", "degraded", "down", "timeout", "unexpected", "missing", "skipped")
SERVICE_VERDICTS = ("healthy", "degraded", "down")
FAILURES = ("dns", "refused", "tls", "timeout", "closed", "network", "http_5xx", "http_4xx", "not_json",
            "shape_changed", "too_large", "redirect_loop", "redirect_offsite")


@dataclass(frozen=True)
class EndpointResult:
    path: str
    url: str
    status: int | None
    latency_ms: float | None
    verdict: str
    failure: str | None
    detail: str
    fields: dict[str, Any]
    role: str = ""
    # Code of the profile rule that decided the verdict (e.g. "db_down_now"), if any.
    reason: str | None = None
    # Playbook suggested when this endpoint is the reason for the service verdict.
    diagnose: str | None = None
    # Set on CORS origin checks: the Origin header that was sent.
    origin: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "latency_ms": self.latency_ms,
                "verdict": self.verdict, "detail": self.detail}


@dataclass(frozen=True)
class Drift:
    """An endpoint that no longer answers the way the profile (the runbook) says.

    ``promise``: it works, but not as the runbook promises (a value, or CORS headers); that alone
    never makes a service degraded.
    """

    path: str
    verdict: str  # "missing", "unexpected" or "promise"
    status: int | None
    detail: str
    replaced_by: str | None = None
    replacement_status: int | None = None
    replacement_ok: bool | None = None
    # promise drift: the field (None for CORS headers), what the runbook promises and what was seen
    field: str | None = None
    promised: Any = None
    seen: Any = None
    origin: str | None = None

    def __str__(self) -> str:
        if self.verdict == "promise":
            return f"{self.path}: {self.detail}"
        head = f"{self.path} → {self.status if self.status is not None else '—'}"
        if self.replaced_by:
            answer = self.replacement_status if self.replacement_status is not None else "—"
            return f"{head}; {self.replaced_by} → {answer}"
        return f"{head}: {self.detail}"


@dataclass(frozen=True)
class ServiceReport:
    name: str
    url: str
    profile: str
    verdict: str
    # Reason code (catalogue key ``health.reason.<code>``) and its language-neutral arguments.
    reason: str
    next_step: str | None
    elapsed_ms: float
    endpoints: list[EndpointResult]
    version: str | None
    build_time: str | None
    uptime_s: float | None
    drift: list[Drift]
    checked_at: datetime
    reason_args: dict[str, Any] = field(default_factory=dict)
    correlation_id: str = ""

    @property
    def reason_line(self) -> str:
        """The reason as one language-neutral line, e.g. ``db_down_now (/api/system/diagnostics: database=FAIL)``."""
        path, detail = self.reason_args.get("path"), self.reason_args.get("detail")
        extra = ": ".join(str(p) for p in (path, detail) if p)
        return f"{self.reason} ({extra})" if extra else self.reason

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict, "reason": self.reason_line,
                "elapsed_ms": self.elapsed_ms, "endpoints": [e.to_json() for e in self.endpoints]}


def reports_to_json(reports: list[ServiceReport]) -> dict[str, Any]:
    """The ``chatops health --json`` document."""
    return {"services": [r.to_json() for r in reports]}
