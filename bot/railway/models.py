"""What the Railway client hands back: small frozen values, parsed once from GraphQL answers."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.common.redact import MASK, redact

_FRACTION = re.compile(r"\.(\d+)")


def parse_time(value: str) -> datetime:
    """Parse Railway's RFC 3339 strings (``Z`` suffix, up to nanoseconds) into an aware datetime."""
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value.strip(), count=1)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """An RFC 3339 UTC string as Railway's DateTime scalar expects."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ServiceIds:
    project_id: str
    environment_id: str
    service_id: str


@dataclass(frozen=True)
class Deployment:
    id: str
    status: str
    created_at: datetime
    commit_hash: str | None
    commit_message: str | None
    branch: str | None
    can_rollback: bool
    can_redeploy: bool
    service_id: str | None
    environment_id: str
    project_id: str
    url: str | None = None

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> Deployment:
        """Build from a ``DeploymentFields`` selection; ``meta`` is untyped JSON, every key optional."""
        meta = node.get("meta") if isinstance(node.get("meta"), Mapping) else {}
        return cls(
            id=node["id"],
            status=node["status"],
            created_at=parse_time(node["createdAt"]),
            commit_hash=_text(meta.get("commitHash")),
            # Written by people, shown in Slack and stored: a pasted credential is masked here, once.
            commit_message=_redacted(meta.get("commitMessage")),
            branch=_redacted(meta.get("branch")),
            can_rollback=bool(node["canRollback"]),
            can_redeploy=bool(node["canRedeploy"]),
            service_id=node.get("serviceId"),
            environment_id=node["environmentId"],
            project_id=node["projectId"],
            url=node.get("staticUrl") or node.get("url"),
        )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _redacted(value: Any) -> str | None:
    text = _text(value)
    return redact(text[:2000]) if text else None


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime
    message: str
    severity: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    deployment_id: str | None = None  # from ``tags`` (environment logs)

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> LogLine:
        attrs = {a["key"]: a["value"] for a in node.get("attributes") or []}
        tags = node.get("tags") if isinstance(node.get("tags"), Mapping) else {}
        return cls(parse_time(node["timestamp"]), node["message"], node.get("severity"), attrs,
                   tags.get("deploymentId"))


# One metric series: (Unix seconds, value) points, oldest first.
MetricSeries = list[tuple[int, float]]


@dataclass(frozen=True)
class Metrics:
    """CPU in vCPU, memory and network in GB, as Railway's metrics query reports them."""

    cpu_usage: MetricSeries
    cpu_limit: MetricSeries
    memory_usage_gb: MetricSeries
    memory_limit_gb: MetricSeries
    network_rx_gb: MetricSeries
    network_tx_gb: MetricSeries

    @staticmethod
    def latest(series: MetricSeries) -> float | None:
        return series[-1][1] if series else None


class SecretVariables(Mapping[str, str]):
    """A service's variables. Code may read values; ``repr``/``str`` show names only."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {str(k): str(v) for k, v in values.items()}

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "SecretVariables({" + ", ".join(f"{k!r}: {MASK!r}" for k in sorted(self._values)) + "})"

    __str__ = __repr__


@dataclass(frozen=True)
class VolumeInstance:
    """A service's volume in one environment (a PostgreSQL service keeps its data on one)."""

    id: str
    service_id: str | None
    mount_path: str
    current_size_mb: float
    size_mb: int

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> VolumeInstance:
        return cls(node["id"], node.get("serviceId"), node["mountPath"], float(node["currentSizeMB"]),
                   int(node["sizeMB"]))


@dataclass(frozen=True)
class VolumeBackup:
    id: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    used_mb: int | None
    referenced_mb: int | None
    schedule_id: str | None

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> VolumeBackup:
        return cls(node["id"], node.get("name"), parse_time(node["createdAt"]),
                   parse_time(node["expiresAt"]) if node.get("expiresAt") else None, node.get("usedMB"),
                   node.get("referencedMB"), node.get("scheduleId"))


@dataclass(frozen=True)
class BackupSchedule:
    id: str
    name: str
    kind: str  # DAILY | WEEKLY | MONTHLY
    cron: str
    retention_seconds: int | None

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> BackupSchedule:
        return cls(node["id"], node["name"], node["kind"], node["cron"], node.get("retentionSeconds"))
