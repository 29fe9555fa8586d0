"""The Railway emulator's world: projects, deployments, logs, variables and metrics, and how they change.

The JSON format is documented in docs/railway-world.md. Times in a world file are RFC 3339 strings,
Unix seconds, or relative to the moment the world is loaded: ``"now"``, ``"now-2d3h"``, ``"now+90s"``;
log timestamps may also be ``"+12s"``, relative to their deployment's ``createdAt``.

Deployments created by a mutation go QUEUED → BUILDING → DEPLOYING → outcome, ``stage_seconds`` per
stage. Their status is derived from the clock whenever the world is read (``settle``), so no background
task is needed. When a new deployment ends SUCCESS (or CRASHED: it went live, then died), the one that
was active before becomes REMOVED; when it ends FAILED the active one keeps serving, as on Railway.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STAGES = ("QUEUED", "BUILDING", "DEPLOYING")
OUTCOMES = ("SUCCESS", "FAILED", "CRASHED")
STATUSES = frozenset({"BUILDING", "CRASHED", "DEPLOYING", "FAILED", "INITIALIZING", "NEEDS_APPROVAL", "QUEUED",
                      "REMOVED", "REMOVING", "SKIPPED", "SLEEPING", "SUCCESS", "WAITING"})
ACTIVE = frozenset({"SUCCESS", "SLEEPING", "CRASHED"})
_ROLLBACK_TARGETS = frozenset({"SUCCESS", "REMOVED", "SLEEPING"})
_REDEPLOYABLE = frozenset({"SUCCESS", "FAILED", "CRASHED", "REMOVED", "SLEEPING", "SKIPPED"})
_RELATIVE = re.compile(r"(?P<origin>now)?(?:(?P<sign>[+-])(?P<amount>(?:\d+(?:\.\d+)?[dhms])+))?")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_CRON = {"DAILY": "0 3 * * *", "WEEKLY": "0 3 * * 0", "MONTHLY": "0 3 1 * *"}
_RETENTION = {"DAILY": 6 * 86400, "WEEKLY": 30 * 86400, "MONTHLY": 90 * 86400}  # the emulator's defaults
_REFERENCE = re.compile(r"\$\{\{\s*([A-Za-z0-9_.-]+?)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class WorldError(Exception):
    """A GraphQL-level failure; the message is what Railway would say (e.g. "Deployment not found")."""


def parse_when(value: Any, now: float, base: float | None = None) -> float:
    """A world-file time as Unix seconds (see the module docstring)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).replace(" ", "")
    match = _RELATIVE.fullmatch(text)
    if match and (match["origin"] or match["sign"]):
        if match["origin"]:
            origin = now
        elif match["sign"] == "+" and base is not None:
            origin = base
        else:
            raise ValueError(f"relative time {text!r} must start with 'now'")
        offset = sum(float(n) * _UNIT[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([dhms])", match["amount"] or ""))
        return origin - offset if match["sign"] == "-" else origin + offset
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LogRecord:
    ts: float
    message: str
    severity: str = "info"
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class DeploymentRecord:
    id: str
    service_id: str
    environment_id: str
    project_id: str
    created_at: float
    status: str
    meta: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    status_updated_at: float = 0.0
    outcome: str | None = None  # set while the deployment is still progressing through STAGES
    rollback_outcome: str | None = None
    can_rollback: bool | None = None
    can_redeploy: bool | None = None
    logs: list[LogRecord] = field(default_factory=list)
    build_logs: list[LogRecord] = field(default_factory=list)

    @property
    def rollbackable(self) -> bool:
        return self.can_rollback if self.can_rollback is not None else self.status in _ROLLBACK_TARGETS

    @property
    def redeployable(self) -> bool:
        return self.can_redeploy if self.can_redeploy is not None else self.status in _REDEPLOYABLE


@dataclass
class BackupRecord:
    id: str
    name: str | None
    created_at: float
    expires_at: float | None = None
    used_mb: int | None = None
    referenced_mb: int | None = None
    schedule_id: str | None = None
    ready_at: float = 0.0  # a backup being made appears in the list once its workflow completes


@dataclass
class VolumeRecord:
    """A service's volume in one environment, its backups and backup schedules."""

    id: str
    service_id: str
    environment_id: str
    mount_path: str = "/var/lib/postgresql/data"
    size_mb: int = 5000
    current_size_mb: float = 100.0
    backups: list[BackupRecord] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # backup ids restored, in order


@dataclass
class WorkflowRecord:
    id: str
    ready_at: float
    error: str | None = None
    held: bool = False  # Running until ``World.release_restores`` (a restore the test holds in progress)


class World:
    def __init__(self, data: Mapping[str, Any] | str | Path, *, stage_seconds: float = 0.2,
                 now: float | None = None, clock: Callable[[], float] = time.time) -> None:
        """``clock`` tells the time deployments progress by: a test may set it, to see each stage at a
        moment it chooses however busy the machine is."""
        if not isinstance(data, Mapping):
            data = json.loads(Path(data).read_text(encoding="utf-8"))
        self.stage_seconds = stage_seconds
        self.clock = clock
        # Called with a deployment as it reaches its outcome, after the one it replaced was removed: in the
        # same step, so whoever reads the new state on Railway finds every consequence already there.
        self.on_finish: list[Callable[[DeploymentRecord], None]] = []
        self.loaded_at = clock() if now is None else now
        self.projects: dict[str, dict[str, Any]] = {}
        self.environments: dict[str, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.variables: dict[str, dict[str, str]] = {}
        self.metrics: dict[str, dict[str, list[tuple[int, float]]]] = {}
        self.deployments: dict[str, DeploymentRecord] = {}
        self.volumes: dict[str, VolumeRecord] = {}
        self.workflows: dict[str, WorkflowRecord] = {}
        self.hold_restores = False  # restores started while True stay Running until release_restores()
        self.next_outcome: str | None = _outcome(data.get("next_outcome"))
        for project in data.get("projects", []):
            self._load_project(project)
        for entry in data.get("deployments", []):
            self.add_deployment(**_deployment_kwargs(entry), now=self.loaded_at, replace=False)
        tokens = data.get("tokens")
        self.open = tokens is None  # no "tokens" key: any Bearer token is accepted
        self.api_tokens = set((tokens or {}).get("api", []))
        self.project_tokens = {t["token"]: self._token_scope(t) for t in (tokens or {}).get("project", [])}

    # ---- loading ------------------------------------------------------------------------------

    def _load_project(self, project: Mapping[str, Any]) -> None:
        pid = project.get("id") or str(uuid.uuid4())
        self.projects[pid] = {"id": pid, "name": project["name"], "environments": [], "services": []}
        for env in project.get("environments") or [{"name": "production"}]:
            eid = env.get("id") or str(uuid.uuid4())
            self.environments[eid] = {"id": eid, "name": env["name"], "projectId": pid}
            self.projects[pid]["environments"].append(eid)
        for svc in project.get("services", []):
            sid = svc.get("id") or str(uuid.uuid4())
            self.services[sid] = {"id": sid, "name": svc["name"], "projectId": pid}
            self.projects[pid]["services"].append(sid)
            self.variables[sid] = {str(k): str(v) for k, v in (svc.get("variables") or {}).items()}
            for measurement, series in (svc.get("metrics") or {}).items():
                self.set_metrics(sid, measurement, self._series(series))
            if svc.get("volume"):
                self._load_volume(sid, svc["volume"])

    def _load_volume(self, service_id: str, spec: Mapping[str, Any]) -> None:
        svc = self.services[service_id]
        env = (self.environment(spec["environment"], svc["projectId"]) if spec.get("environment")
               else self._only_environment(svc))
        volume = VolumeRecord(id=spec.get("id") or str(uuid.uuid4()), service_id=service_id,
                              environment_id=env["id"], mount_path=spec.get("mountPath", "/var/lib/postgresql/data"),
                              size_mb=int(spec.get("sizeMB", 5000)),
                              current_size_mb=float(spec.get("currentSizeMB", 100)))
        for b in spec.get("backups", []):
            volume.backups.append(BackupRecord(
                id=b.get("id") or str(uuid.uuid4()), name=b.get("name"),
                created_at=parse_when(b.get("createdAt", "now"), self.loaded_at),
                expires_at=parse_when(b["expiresAt"], self.loaded_at) if b.get("expiresAt") else None,
                used_mb=b.get("usedMB"), referenced_mb=b.get("referencedMB"), schedule_id=b.get("scheduleId")))
        for sched in spec.get("schedules", []):
            kind = sched["kind"]
            if kind not in ("DAILY", "WEEKLY", "MONTHLY"):
                raise ValueError(f"unknown backup schedule kind {kind!r}")
            volume.schedules.append({"id": sched.get("id") or str(uuid.uuid4()),
                                     "name": sched.get("name", kind.title()), "kind": kind,
                                     "cron": sched.get("cron", _CRON[kind]),
                                     "retentionSeconds": sched.get("retentionSeconds", _RETENTION[kind]),
                                     "createdAt": iso(self.loaded_at)})
        self.volumes[volume.id] = volume

    def _series(self, series: Any) -> list[tuple[int, float]]:
        if isinstance(series, Mapping):
            start = parse_when(series["start"], self.loaded_at)
            step = float(series.get("step", 60))
            return [(int(start + i * step), float(v)) for i, v in enumerate(series["values"])]
        return [(int(parse_when(ts, self.loaded_at)), float(v)) for ts, v in series]

    def _token_scope(self, token: Mapping[str, Any]) -> tuple[str, str]:
        project = self.project(token.get("projectId") or token["project"])
        env = self.environment(token.get("environmentId") or token["environment"], project["id"])
        return project["id"], env["id"]

    # ---- lookups (ids or names) ---------------------------------------------------------------

    def project(self, ref: str) -> dict[str, Any]:
        return _lookup(self.projects, ref, "Project")

    def environment(self, ref: str, project_id: str | None = None) -> dict[str, Any]:
        pool = {k: v for k, v in self.environments.items() if project_id in (None, v["projectId"])}
        return _lookup(pool, ref, "Environment")

    def service(self, ref: str, project_id: str | None = None) -> dict[str, Any]:
        pool = {k: v for k, v in self.services.items() if project_id in (None, v["projectId"])}
        return _lookup(pool, ref, "Service")

    def deployment(self, deployment_id: str) -> DeploymentRecord:
        self.settle()
        try:
            return self.deployments[deployment_id]
        except KeyError:
            raise WorldError("Deployment not found") from None

    def deployments_of(self, service: str, environment: str | None = None) -> list[DeploymentRecord]:
        """A service's deployments, newest first (for assertions and the demo)."""
        self.settle()
        sid = self.service(service)["id"]
        eid = self.environment(environment, self.services[sid]["projectId"])["id"] if environment else None
        found = [d for d in self.deployments.values() if d.service_id == sid and eid in (None, d.environment_id)]
        return sorted(found, key=lambda d: d.created_at, reverse=True)

    def active(self, service_id: str, environment_id: str) -> DeploymentRecord | None:
        running = [d for d in self.deployments.values()
                   if d.service_id == service_id and d.environment_id == environment_id and d.status in ACTIVE]
        return max(running, key=lambda d: d.created_at, default=None)

    # ---- the clock ----------------------------------------------------------------------------

    def settle(self, now: float | None = None) -> None:
        """Move progressing deployments along their stages; replace the active one on success."""
        now = self.clock() if now is None else now
        pending = sorted((d for d in self.deployments.values() if d.outcome), key=lambda d: d.created_at)
        for dep in pending:
            stage = int((now - dep.created_at) // self.stage_seconds) if self.stage_seconds > 0 else len(STAGES)
            if stage < len(STAGES):
                if dep.status != STAGES[stage]:
                    dep.status = STAGES[stage]
                    dep.status_updated_at = dep.created_at + stage * self.stage_seconds
                continue
            outcome, dep.outcome = dep.outcome, None
            self._finish(dep, outcome or "SUCCESS", dep.created_at + len(STAGES) * self.stage_seconds)

    def _finish(self, dep: DeploymentRecord, status: str, at: float) -> None:
        if status in ("SUCCESS", "CRASHED"):
            previous = self.active(dep.service_id, dep.environment_id)
            if previous is not None and previous.created_at > dep.created_at:
                previous = None
            for other in self.deployments.values():
                if (other is not dep and other.service_id == dep.service_id
                        and other.environment_id == dep.environment_id and other.created_at <= dep.created_at
                        and (other.status in ("SUCCESS", "SLEEPING") or other is previous)):
                    other.status, other.status_updated_at = "REMOVED", at
        dep.status, dep.status_updated_at = status, at
        for listener in self.on_finish:
            listener(dep)

    # ---- changing the world -------------------------------------------------------------------

    def add_deployment(self, service: str, *, environment: str | None = None, status: str | None = None,
                       outcome: str | None = None, created_at: Any = None, meta: Mapping[str, Any] | None = None,
                       url: str | None = None, id: str | None = None, rollback_outcome: str | None = None,
                       can_rollback: bool | None = None, can_redeploy: bool | None = None,
                       logs: Iterable[Mapping[str, Any]] = (), build_logs: Iterable[Mapping[str, Any]] = (),
                       now: float | None = None, replace: bool = True) -> DeploymentRecord:
        """Add a deployment ("a bad deploy lands"). With ``status`` it is settled at once (a SUCCESS or
        CRASHED one replaces the active deployment unless ``replace`` is false, as when a world file is
        loaded); without, it progresses through the stages to ``outcome`` (default SUCCESS)."""
        now = self.clock() if now is None else now
        svc = self.service(service)
        env = self.environment(environment, svc["projectId"]) if environment else self._only_environment(svc)
        created = parse_when(created_at, now) if created_at is not None else now
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown deployment status {status!r}")
        dep = DeploymentRecord(
            id=id or str(uuid.uuid4()), service_id=svc["id"], environment_id=env["id"], project_id=svc["projectId"],
            created_at=created, status=status or STAGES[0], meta=dict(meta or {}), url=url, status_updated_at=created,
            outcome=None if status else (_outcome(outcome) or "SUCCESS"), rollback_outcome=_outcome(rollback_outcome),
            can_rollback=can_rollback, can_redeploy=can_redeploy,
        )
        dep.logs = [self._log(line, created) for line in logs]
        dep.build_logs = [self._log(line, created) for line in build_logs]
        self.deployments[dep.id] = dep
        if replace and status in ("SUCCESS", "CRASHED"):
            self._finish(dep, status, created)
        return dep

    def _only_environment(self, svc: Mapping[str, Any]) -> dict[str, Any]:
        envs = self.projects[svc["projectId"]]["environments"]
        return self.environments[envs[0]]

    def _log(self, line: Mapping[str, Any], base: float) -> LogRecord:
        ts = parse_when(line.get("timestamp", "+0s"), self.loaded_at, base)
        attrs = {str(k): str(v) for k, v in (line.get("attributes") or {}).items()}
        return LogRecord(ts, str(line["message"]), str(line.get("severity") or "info"), attrs)

    def rollback(self, deployment_id: str) -> DeploymentRecord:
        target = self.deployment(deployment_id)
        if not target.rollbackable:
            raise WorldError("Deployment cannot be rolled back")
        return self._respawn(target, "rollback")

    def redeploy(self, deployment_id: str) -> DeploymentRecord:
        target = self.deployment(deployment_id)
        if not target.redeployable:
            raise WorldError("Deployment cannot be redeployed")
        return self._respawn(target, "redeploy")

    def _respawn(self, target: DeploymentRecord, reason: str) -> DeploymentRecord:
        """A new deployment from ``target``'s image: same meta, its runtime logs replayed from boot."""
        if target.rollback_outcome:
            outcome = target.rollback_outcome
        else:
            outcome, self.next_outcome = self.next_outcome or "SUCCESS", None
        now = self.clock()
        dep = self.add_deployment(target.service_id, environment=target.environment_id, outcome=outcome,
                                  meta={**target.meta, "reason": reason}, url=target.url, now=now)
        live = now + len(STAGES) * self.stage_seconds
        first = min((line.ts for line in target.logs), default=0.0)
        dep.logs = [LogRecord(live + line.ts - first, line.message, line.severity, dict(line.attributes))
                    for line in target.logs]
        return dep

    def set_variables(self, service: str, values: Mapping[str, str], *, replace: bool = False) -> None:
        sid = self.service(service)["id"]
        current = {} if replace else self.variables.get(sid, {})
        self.variables[sid] = {**current, **{str(k): str(v) for k, v in values.items()}}

    def set_logs(self, deployment_id: str, lines: Iterable[Mapping[str, Any]], *, build: bool = False) -> None:
        dep = self.deployment(deployment_id)
        records = [self._log(line, dep.created_at) for line in lines]
        if build:
            dep.build_logs = records
        else:
            dep.logs = records

    def set_metrics(self, service: str, measurement: str, points: Iterable[tuple[float, float]]) -> None:
        sid = self.service(service)["id"]
        self.metrics.setdefault(sid, {})[measurement] = sorted((int(ts), float(v)) for ts, v in points)

    def volume(self, volume_instance_id: str) -> VolumeRecord:
        try:
            return self.volumes[volume_instance_id]
        except KeyError:
            raise WorldError("Volume instance not found") from None

    def volume_of(self, service: str) -> VolumeRecord:
        sid = self.service(service)["id"]
        return next(v for v in self.volumes.values() if v.service_id == sid)

    def visible_backups(self, volume_instance_id: str, now: float | None = None) -> list[BackupRecord]:
        now = time.time() if now is None else now
        return [b for b in self.volume(volume_instance_id).backups if b.ready_at <= now]

    def _workflow(self, error: str | None = None) -> WorkflowRecord:
        flow = WorkflowRecord(id=str(uuid.uuid4()), ready_at=time.time() + 2 * self.stage_seconds, error=error)
        self.workflows[flow.id] = flow
        return flow

    def create_backup(self, volume_instance_id: str, name: str | None) -> WorkflowRecord:
        """A manual backup: its workflow runs two stages, then the backup is listed (newest)."""
        volume = self.volume(volume_instance_id)
        flow = self._workflow()
        size = int(volume.current_size_mb)
        volume.backups.append(BackupRecord(id=str(uuid.uuid4()), name=name or "Manual", created_at=time.time(),
                                           used_mb=size, referenced_mb=size, ready_at=flow.ready_at))
        return flow

    def restore_backup(self, volume_instance_id: str, backup_id: str) -> WorkflowRecord:
        volume = self.volume(volume_instance_id)
        if not any(b.id == backup_id for b in self.visible_backups(volume_instance_id)):
            raise WorldError("Backup not found")
        volume.restored.append(backup_id)
        flow = self._workflow()
        flow.held = self.hold_restores
        return flow

    def release_restores(self) -> None:
        """Let the restores held by ``hold_restores`` finish (their workflows then say how they ended)."""
        self.hold_restores = False
        for flow in self.workflows.values():
            flow.held = False

    def workflow_status(self, workflow_id: str) -> dict[str, Any]:
        flow = self.workflows.get(workflow_id)
        if flow is None:
            return {"status": "NotFound", "error": None}
        if flow.held or flow.ready_at > time.time():
            return {"status": "Running", "error": None}
        return {"status": "Error" if flow.error else "Complete", "error": flow.error}

    def set_next_outcome(self, outcome: str | None) -> None:
        """The outcome of the next rollback or redeploy (then back to SUCCESS)."""
        self.next_outcome = _outcome(outcome)

    # ---- reading ------------------------------------------------------------------------------

    def rendered_variables(self, service_id: str) -> dict[str, str]:
        """Variables with ``${{Service.NAME}}`` references resolved, as deployments receive them."""
        project_id = self.services[service_id]["projectId"]

        def resolve(match: re.Match[str]) -> str:
            try:
                other = self.service(match.group(1), project_id)["id"]
            except WorldError:
                return ""
            return self.variables.get(other, {}).get(match.group(2), "")

        return {k: _REFERENCE.sub(resolve, v) for k, v in self.variables.get(service_id, {}).items()}

    def logs(self, lines: Iterable[LogRecord], *, filter: str | None, start: float | None, end: float | None,
             limit: int | None, service_of: Callable[[LogRecord], str | None] | None = None) -> list[LogRecord]:
        """Matching lines inside [start, end], the newest ``limit`` of them, oldest first."""
        matcher = LogFilter(filter)
        hits = sorted((ln for ln in lines if (start is None or ln.ts >= start) and (end is None or ln.ts <= end)
                       and matcher(ln, service_of(ln) if service_of else None)), key=lambda ln: ln.ts)
        return hits[-limit:] if limit is not None and limit >= 0 else hits

    def environment_lines(self, environment_id: str) -> list[tuple[DeploymentRecord, LogRecord]]:
        return [(d, ln) for d in self.deployments.values() if d.environment_id == environment_id for ln in d.logs]

    def metric_points(self, service_id: str, measurement: str, start: float, end: float,
                      sample_rate: int | None) -> list[tuple[int, float]]:
        """Points in [start, end], averaged into ``sample_rate``-second buckets."""
        points = [(ts, v) for ts, v in self.metrics.get(service_id, {}).get(measurement, []) if start <= ts <= end]
        if not sample_rate or sample_rate <= 0:
            return points
        out = []
        for bucket, group in itertools.groupby(points, key=lambda p: p[0] // sample_rate * sample_rate):
            values = [v for _, v in group]
            out.append((int(bucket), sum(values) / len(values)))
        return out


class LogFilter:
    """A subset of Railway's filter syntax: words and "phrases" (substring, case-insensitive, all must
    match), ``-word`` (must not match), ``@level:<severity>``, ``@service:<id>`` (environment logs) and
    ``@<attribute>:<value>`` (a structured log attribute)."""

    def __init__(self, text: str | None) -> None:
        try:
            terms = shlex.split(text or "")
        except ValueError:
            terms = (text or "").split()
        tagged = [t for t in terms if t.startswith("@") and ":" in t]
        self.levels = [t.split(":", 1)[1].lower() for t in tagged if t.lower().startswith("@level:")]
        self.services = [t.split(":", 1)[1] for t in tagged if t.lower().startswith("@service:")]
        self.attributes = [tuple(t[1:].split(":", 1)) for t in tagged
                           if not t.lower().startswith(("@level:", "@service:"))]
        words = [t for t in terms if t not in tagged and t.upper() not in ("AND", "OR")]
        self.require = [w.lower() for w in words if not w.startswith("-")]
        self.exclude = [w[1:].lower() for w in words if w.startswith("-") and len(w) > 1]

    def __call__(self, line: LogRecord, service_id: str | None = None) -> bool:
        text = line.message.lower()
        return (all(w in text for w in self.require) and not any(w in text for w in self.exclude)
                and (not self.levels or line.severity.lower() in self.levels)
                and (not self.services or service_id in self.services)
                and all(line.attributes.get(k) == v for k, v in self.attributes))


def _lookup(pool: Mapping[str, dict[str, Any]], ref: str, kind: str) -> dict[str, Any]:
    if ref in pool:
        return pool[ref]
    named = [v for v in pool.values() if v["name"] == ref]
    if len(named) == 1:
        return named[0]
    if named:
        raise WorldError(f"{kind} name {ref!r} is ambiguous: use its id")
    raise WorldError(f"{kind} not found")


def _outcome(value: Any) -> str | None:
    if value is None:
        return None
    if value not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {value!r}")
    return str(value)


def _deployment_kwargs(entry: Mapping[str, Any]) -> dict[str, Any]:
    known = {"id": "id", "service": "service", "serviceId": "service", "environment": "environment",
             "environmentId": "environment", "status": "status", "outcome": "outcome", "createdAt": "created_at",
             "meta": "meta", "url": "url", "rollback_outcome": "rollback_outcome", "canRollback": "can_rollback",
             "canRedeploy": "can_redeploy", "logs": "logs", "build_logs": "build_logs"}
    unknown = set(entry) - set(known)
    if unknown:
        raise ValueError(f"unknown deployment keys: {', '.join(sorted(unknown))}")
    kwargs = {known[k]: v for k, v in entry.items()}
    kwargs.setdefault("status", "SUCCESS")
    return kwargs
