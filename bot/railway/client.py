"""The bot's one way to talk to Railway's public GraphQL API (``/graphql/v2``).

Auth: ``RAILWAY_TOKEN`` (a project token) is sent as ``Project-Access-Token`` and wins when both are
set, as Railway's CLI does; otherwise ``RAILWAY_API_TOKEN`` goes as ``Authorization: Bearer``. Only one
header is ever sent. A project token reaches one environment of one project; ``resolve`` says so when a
configured service lies outside it.

Retries: queries are retried on HTTP 429 (waiting ``Retry-After`` or until ``X-RateLimit-Reset``, and
giving up at once when that wait exceeds ``max_retry_wait``) and on 5xx / connection failures with
exponential backoff, at most ``max_read_retries`` times. Timeouts are not retried (the person is
already waiting). Mutations are never retried after an ambiguous failure (timeout, 5xx, dropped
connection): Railway may have acted. A 429 on a mutation is unambiguous (Railway rejects before
executing), so it is retried once after ``Retry-After`` if that fits in ``max_retry_wait``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from bot.common import metrics
from bot.common.errors import ConfigError
from bot.common.identity import USER_AGENT
from bot.config.services import RailwayRef
from bot.i18n import t
from bot.railway.documents import ALL_DOCUMENTS, MUTATIONS
from bot.railway.errors import (
    RailwayError,
    RailwayMalformedAnswer,
    RailwayNameNotFound,
    RailwayNotAuthorized,
    RailwayNotFound,
    RailwayOutsideProjectToken,
    RailwayProjectTokenNotFound,
    RailwayRateLimited,
    RailwayServerError,
    RailwayTimeout,
)
from bot.railway.models import (
    BackupSchedule,
    Deployment,
    LogLine,
    Metrics,
    MetricSeries,
    SecretVariables,
    ServiceIds,
    VolumeBackup,
    VolumeInstance,
    format_time,
    parse_time,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_METRIC_FIELDS = {
    "CPU_USAGE": "cpu_usage",
    "CPU_LIMIT": "cpu_limit",
    "MEMORY_USAGE_GB": "memory_usage_gb",
    "MEMORY_LIMIT_GB": "memory_limit_gb",
    "NETWORK_RX_GB": "network_rx_gb",
    "NETWORK_TX_GB": "network_tx_gb",
}
_MAX_PROJECT_PAGES = 20


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date), else ``X-RateLimit-Reset``.

    ``X-RateLimit-Reset`` is read as a Unix time when it looks like one (seconds or milliseconds),
    as a number of seconds otherwise, or as an RFC 3339 date.
    """
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            number = float(value)
        except ValueError:
            try:
                return max(0.0, parse_time(value).timestamp() - now)
            except ValueError:
                return None
        if number > 1e12:
            number /= 1000.0
        return max(0.0, number - now) if number > 1e9 else max(0.0, number)
    return None


class RailwayClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        api_token: str | None = None,
        project_token: str | None = None,
        max_read_retries: int = 3,
        max_retry_wait: float = 30.0,
        timeout: float = 15.0,
        backoff: float = 0.5,
        lang: str = "en",
    ) -> None:
        if not api_token and not project_token:
            raise ConfigError(t("railway.errors.no_token", lang))
        self.http = http
        self.url = url
        self.uses_project_token = bool(project_token)
        auth = {"Project-Access-Token": project_token} if project_token else {"Authorization": f"Bearer {api_token}"}
        self._headers = {"User-Agent": USER_AGENT, **auth}
        self.max_read_retries = max_read_retries
        self.max_retry_wait = max_retry_wait
        self.timeout = timeout
        self.backoff = backoff
        self.lang = lang
        self._ids: dict[tuple[str | None, ...], ServiceIds] = {}
        self._projects: list[dict[str, Any]] | None = None
        self._token_scope: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: Any, http: httpx.AsyncClient, **kwargs: Any) -> RailwayClient:
        """The client the settings describe (the CLI verbs' too: CHATOPS_RAILWAY_TIMEOUT_SECONDS bounds each call)."""
        kwargs.setdefault("timeout", settings.CHATOPS_RAILWAY_TIMEOUT_SECONDS)
        return cls(http, settings.RAILWAY_API_URL, api_token=settings.RAILWAY_API_TOKEN,
                   project_token=settings.RAILWAY_TOKEN, lang=settings.CHATOPS_LANGUAGE, **kwargs)

    # ---- transport -------------------------------------------------------------------------

    async def _request(self, operation: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Send one document from ``ALL_DOCUMENTS``; return its ``data`` or raise a RailwayError."""
        mutation = operation in MUTATIONS
        attempt = 0
        while True:
            try:
                return await self._counted(operation, variables, mutation)
            except RailwayRateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else self.backoff * 2**attempt
                if attempt >= (1 if mutation else self.max_read_retries) or wait > self.max_retry_wait:
                    raise
            except RailwayServerError:
                if mutation or attempt >= self.max_read_retries:
                    raise
                wait = self.backoff * 2**attempt
            attempt += 1
            log.warning("railway %s: retry %d in %.2fs", operation, attempt, wait)
            await asyncio.sleep(wait)

    async def _counted(self, operation: str, variables: Mapping[str, Any], mutation: bool) -> dict[str, Any]:
        """``_send``, with its outcome counted for ``/metrics``."""
        try:
            data = await self._send(operation, variables, mutation)
        except RailwayError as exc:
            metrics.RAILWAY_CALLS.labels(operation, type(exc).__name__).inc()
            raise
        metrics.RAILWAY_CALLS.labels(operation, "ok").inc()
        return data

    async def _send(self, operation: str, variables: Mapping[str, Any], mutation: bool) -> dict[str, Any]:
        body = {"query": ALL_DOCUMENTS[operation], "variables": dict(variables), "operationName": operation}
        try:
            resp = await self.http.post(self.url, json=body, headers=self._headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            raise RailwayTimeout(seconds=self.timeout, ambiguous=mutation and sent, lang=self.lang) from None
        except httpx.ConnectError:
            raise RailwayServerError(status=None, lang=self.lang) from None
        except httpx.TransportError:
            raise RailwayServerError(status=None, ambiguous=mutation, lang=self.lang) from None
        if resp.status_code == 429:
            raise RailwayRateLimited(retry_after=retry_after_seconds(resp.headers), lang=self.lang)
        if resp.status_code >= 500:
            raise RailwayServerError(status=resp.status_code, ambiguous=mutation, lang=self.lang)
        if resp.status_code in (401, 403):
            raise RailwayNotAuthorized(project_token=self.uses_project_token, lang=self.lang)
        content_type = resp.headers.get("content-type", "").split(";")[0] or "?"
        try:
            payload = resp.json()
        except ValueError:
            raise self._malformed(resp.status_code, content_type, "not_json") from None
        if not isinstance(payload, dict):
            raise self._malformed(resp.status_code, content_type, "no_data")
        if payload.get("errors"):
            raise self._map_errors(payload["errors"])
        data = payload.get("data")
        if resp.status_code >= 400 or not isinstance(data, dict):
            raise self._malformed(resp.status_code, content_type, "no_data")
        return data

    def _malformed(self, status: int, content_type: str, reason: str) -> RailwayMalformedAnswer:
        return RailwayMalformedAnswer(status=status, content_type=content_type, reason=reason, lang=self.lang)

    def _map_errors(self, errors: Any) -> RailwayError:
        """Match messages case-insensitively, as Railway's CLI does; ``extensions.code`` is only a hint."""
        items = errors if isinstance(errors, list) else [errors]
        messages = [str(e.get("message", "")) if isinstance(e, Mapping) else str(e) for e in items]
        text = " | ".join(m for m in messages if m)[:300]
        low = text.lower()
        if "project token not found" in low:
            return RailwayProjectTokenNotFound(lang=self.lang)
        if "not authorized" in low:
            return RailwayNotAuthorized(project_token=self.uses_project_token, lang=self.lang)
        if "not found" in low:
            return RailwayNotFound(detail=text, lang=self.lang)
        if "rate limit" in low or "too quickly" in low:
            return RailwayRateLimited(retry_after=None, lang=self.lang)
        return RailwayError(detail=text, lang=self.lang)

    def _parse(self, build: Callable[[], T]) -> T:
        """Turn an answer that lacks the expected shape into RailwayMalformedAnswer."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._malformed(200, "application/json", "shape") from None

    # ---- finding ids ----------------------------------------------------------------------

    async def resolve(self, ref: RailwayRef) -> ServiceIds:
        """Ids of a configured service: as given, or found by name (list and match), then cached."""
        key = (ref.project_id, ref.environment_id, ref.service_id, ref.project, ref.environment, ref.service)
        if key not in self._ids:
            if not (ref.service_id or ref.service):
                raise ConfigError(t("railway.errors.service_required", self.lang))
            if self.uses_project_token:
                self._ids[key] = await self._resolve_in_token_scope(ref)
            elif ref.project_id and ref.environment_id and ref.service_id:
                self._ids[key] = ServiceIds(ref.project_id, ref.environment_id, ref.service_id)
            else:
                self._ids[key] = await self._resolve_by_listing(ref)
        return self._ids[key]

    async def project_token_scope(self) -> dict[str, Any]:
        """``projectToken``: the one project and environment a project token reaches (cached)."""
        if self._token_scope is None:
            data = await self._request("ProjectToken", {})
            self._token_scope = self._parse(lambda: _token_scope(data["projectToken"]))
        return self._token_scope

    async def _resolve_in_token_scope(self, ref: RailwayRef) -> ServiceIds:
        scope = await self.project_token_scope()
        project, environment = scope["project"], scope["environment"]
        outside = (
            (ref.project_id and ref.project_id != project["id"])
            or (ref.project and not _same_name(ref.project, project["name"]))
            or (ref.environment_id and ref.environment_id != environment["id"])
            or (ref.environment and not _same_name(ref.environment, environment["name"]))
            or (ref.service_id and project["services"]
                and ref.service_id not in {s["id"] for s in project["services"]})
        )
        if outside:
            wanted = (f"{ref.project or ref.project_id or '?'} / "
                      f"{ref.environment or ref.environment_id or '?'}")
            raise RailwayOutsideProjectToken(service=ref.service or ref.service_id, wanted=wanted,
                                             project=project["name"], environment=environment["name"],
                                             lang=self.lang)
        service_id = ref.service_id or self._match(project["services"], "service", ref.service or "")["id"]
        return ServiceIds(project["id"], environment["id"], service_id)

    async def _resolve_by_listing(self, ref: RailwayRef) -> ServiceIds:
        if ref.project_id:
            projects = [await self._project(ref.project_id)]
        elif ref.project:
            projects = [self._match(await self._all_projects(), "project", ref.project)]
        else:
            projects = await self._all_projects()
        found = []
        for project in projects:
            if ref.service_id:
                services = [s for s in project["services"] if s["id"] == ref.service_id]
            else:
                services = [s for s in project["services"] if _same_name(s["name"], ref.service or "")]
            found += [(project, s) for s in services]
        if not found:
            if ref.service_id and ref.project_id:  # the listing may be partial; trust the ids given
                found = [(projects[0], {"id": ref.service_id})]
            else:
                raise RailwayNameNotFound(kind="service", name=ref.service or ref.service_id or "", lang=self.lang)
        if len(found) > 1:
            raise ConfigError(t("railway.errors.ambiguous_name", self.lang, kind=t("railway.kinds.service", self.lang),
                                name=ref.service, field="project"))
        project, service = found[0]
        return ServiceIds(project["id"], self._environment_id(project, ref), service["id"])

    def _environment_id(self, project: dict[str, Any], ref: RailwayRef) -> str:
        if ref.environment_id:
            return ref.environment_id
        if ref.environment:
            return self._match(project["environments"], "environment", ref.environment)["id"]
        if len(project["environments"]) == 1:
            return project["environments"][0]["id"]
        names = ", ".join(e["name"] for e in project["environments"])
        raise ConfigError(t("railway.errors.environment_required", self.lang, project=project["name"], names=names))

    def _match(self, nodes: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
        """Exact name first, then case-insensitive; none or several is a configuration problem."""
        hits = [n for n in nodes if n["name"] == name] or [n for n in nodes if _same_name(n["name"], name)]
        if not hits:
            raise RailwayNameNotFound(kind=kind, name=name, lang=self.lang)
        if len(hits) > 1:
            raise ConfigError(t("railway.errors.ambiguous_name", self.lang, kind=t(f"railway.kinds.{kind}", self.lang),
                                name=name, field=f"{kind}_id"))
        return hits[0]

    async def _project(self, project_id: str) -> dict[str, Any]:
        data = await self._request("Project", {"id": project_id})
        return self._parse(lambda: _project_node(data["project"]))

    async def _all_projects(self) -> list[dict[str, Any]]:
        if self._projects is None:
            projects: list[dict[str, Any]] = []
            after = None
            for _ in range(_MAX_PROJECT_PAGES):
                data = await self._request("Projects", {"first": 100, "after": after})
                conn = data.get("projects") or {}
                projects += self._parse(lambda c=conn: [_project_node(e["node"]) for e in c["edges"]])
                page = conn.get("pageInfo") or {}
                if not page.get("hasNextPage") or not page.get("endCursor"):
                    break
                after = page["endCursor"]
            self._projects = projects
        return self._projects

    # ---- deployments ----------------------------------------------------------------------

    async def deployments(self, ids: ServiceIds, limit: int = 20) -> list[Deployment]:
        """The service's deployments in its environment, newest first (Railway does not promise order)."""
        data = await self._request("Deployments", {
            "input": {"projectId": ids.project_id, "environmentId": ids.environment_id, "serviceId": ids.service_id},
            "first": limit,
        })
        found = self._parse(lambda: [Deployment.from_node(e["node"]) for e in data["deployments"]["edges"]])
        return sorted(found, key=lambda d: d.created_at, reverse=True)

    async def active_deployment(self, ids: ServiceIds) -> Deployment | None:
        """The deployment serving traffic: ``activeDeployments``, else the newest SUCCESS."""
        data = await self._request("ServiceInstance", {"serviceId": ids.service_id,
                                                        "environmentId": ids.environment_id})
        active = self._parse(lambda: [Deployment.from_node(n) for n in data["serviceInstance"]["activeDeployments"]])
        if active:
            return max(active, key=lambda d: d.created_at)
        return next((d for d in await self.deployments(ids) if d.status == "SUCCESS"), None)

    async def deployment(self, deployment_id: str) -> Deployment:
        data = await self._request("Deployment", {"id": deployment_id})
        return self._parse(lambda: Deployment.from_node(data["deployment"]))

    async def rollback(self, deployment_id: str) -> bool:
        """Roll back to the earlier deployment ``deployment_id``; Railway creates a new deployment from it."""
        data = await self._request("DeploymentRollback", {"id": deployment_id})
        return self._parse(lambda: _boolean(data["deploymentRollback"]))

    async def redeploy(self, deployment_id: str) -> Deployment:
        data = await self._request("DeploymentRedeploy", {"id": deployment_id})
        return self._parse(lambda: Deployment.from_node(data["deploymentRedeploy"]))

    async def restart(self, deployment_id: str) -> bool:
        data = await self._request("DeploymentRestart", {"id": deployment_id})
        return self._parse(lambda: _boolean(data["deploymentRestart"]))

    # ---- logs -----------------------------------------------------------------------------

    async def deployment_logs(self, deployment_id: str, filter: str | None = None, limit: int = 500,
                              start: datetime | None = None, end: datetime | None = None) -> list[LogLine]:
        """Runtime logs (Railway caps ``limit`` at 5000); ``filter`` uses Railway's log filter syntax."""
        return await self._logs("DeploymentLogs", "deploymentLogs", deployment_id, filter, limit, start, end)

    async def _logs(self, operation: str, field: str, deployment_id: str, filter: str | None, limit: int,
                    start: datetime | None, end: datetime | None) -> list[LogLine]:
        data = await self._request(operation, {
            "deploymentId": deployment_id, "filter": filter, "limit": limit,
            "startDate": format_time(start) if start else None, "endDate": format_time(end) if end else None,
        })
        return self._parse(lambda: _log_lines(data[field]))

    async def environment_logs(self, environment_id: str, filter: str | None = None, limit: int = 500,
                               start: datetime | None = None, end: datetime | None = None) -> list[LogLine]:
        """Logs of every service in the environment: the ``limit`` lines before ``end`` (default now)."""
        anchor = end or datetime.now(UTC)
        data = await self._request("EnvironmentLogs", {
            "environmentId": environment_id, "filter": filter, "anchorDate": format_time(anchor),
            "beforeDate": format_time(end) if end else None, "afterDate": format_time(start) if start else None,
            "beforeLimit": limit,
        })
        return self._parse(lambda: _log_lines(data["environmentLogs"]))

    # ---- volumes and backups --------------------------------------------------------------

    async def volume_instance(self, ids: ServiceIds) -> VolumeInstance | None:
        """The volume attached to service ``ids.service_id`` in its environment, if it has one."""
        data = await self._request("VolumeInstances", {"environmentId": ids.environment_id})
        found = self._parse(lambda: [VolumeInstance.from_node(e["node"])
                                     for e in data["environment"]["volumeInstances"]["edges"]])
        return next((v for v in found if v.service_id == ids.service_id), None)

    async def backups(self, volume_instance_id: str) -> list[VolumeBackup]:
        """The volume's backups, newest first."""
        data = await self._request("VolumeBackups", {"volumeInstanceId": volume_instance_id})
        found = self._parse(lambda: [VolumeBackup.from_node(n) for n in data["volumeInstanceBackupList"]])
        return sorted(found, key=lambda b: b.created_at, reverse=True)

    async def backup_schedules(self, volume_instance_id: str) -> list[BackupSchedule]:
        data = await self._request("VolumeBackupSchedules", {"volumeInstanceId": volume_instance_id})
        return self._parse(lambda: [BackupSchedule.from_node(n) for n in data["volumeInstanceBackupScheduleList"]])

    async def create_backup(self, volume_instance_id: str, name: str | None = None) -> str | None:
        """Start a backup; Railway answers with the id of the workflow that makes it."""
        data = await self._request("VolumeBackupCreate", {"volumeInstanceId": volume_instance_id, "name": name})
        return self._parse(lambda: data["volumeInstanceBackupCreate"]["workflowId"])

    async def restore_backup(self, volume_instance_id: str, backup_id: str) -> str | None:
        data = await self._request("VolumeBackupRestore", {"volumeInstanceId": volume_instance_id,
                                                            "volumeInstanceBackupId": backup_id})
        return self._parse(lambda: data["volumeInstanceBackupRestore"]["workflowId"])

    async def workflow_status(self, workflow_id: str) -> tuple[str, str | None]:
        """(status, error) of a workflow: Running, Complete, Error or NotFound."""
        data = await self._request("WorkflowStatus", {"workflowId": workflow_id})
        return self._parse(lambda: (str(data["workflowStatus"]["status"]), data["workflowStatus"].get("error")))

    # ---- variables and metrics ------------------------------------------------------------

    async def variables(self, ids: ServiceIds) -> SecretVariables:
        """The service's rendered variables. Values are secrets: read them, never show them."""
        data = await self._request("Variables", {"projectId": ids.project_id, "environmentId": ids.environment_id,
                                                  "serviceId": ids.service_id})
        values = data.get("variables")
        if not isinstance(values, Mapping):
            raise self._malformed(200, "application/json", "shape")
        return SecretVariables(values)

    async def metrics(self, ids: ServiceIds, start: datetime, end: datetime | None = None,
                      sample_rate_seconds: int = 60) -> Metrics:
        data = await self._request("Metrics", {
            "projectId": ids.project_id, "environmentId": ids.environment_id, "serviceId": ids.service_id,
            "measurements": list(_METRIC_FIELDS), "startDate": format_time(start),
            "endDate": format_time(end) if end else None, "sampleRateSeconds": sample_rate_seconds,
        })
        return self._parse(lambda: _metrics(data["metrics"]))


def _same_name(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a Boolean")
    return value


def _named(conn: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"id": e["node"]["id"], "name": e["node"]["name"]} for e in (conn or {}).get("edges", [])]


def _project_node(node: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": node["id"], "name": node["name"], "environments": _named(node.get("environments")),
            "services": _named(node.get("services"))}


def _token_scope(node: Mapping[str, Any]) -> dict[str, Any]:
    project = node.get("project") or {"id": node["projectId"], "name": node["projectId"]}
    environment = node.get("environment") or {"id": node["environmentId"], "name": node["environmentId"]}
    return {"projectId": node["projectId"], "environmentId": node["environmentId"],
            "project": {"id": project["id"], "name": project["name"], "services": _named(project.get("services"))},
            "environment": {"id": environment["id"], "name": environment["name"]}}


def _log_lines(nodes: Iterable[Mapping[str, Any]]) -> list[LogLine]:
    return sorted((LogLine.from_node(n) for n in nodes), key=lambda line: line.timestamp)


def _metrics(results: Iterable[Mapping[str, Any]]) -> Metrics:
    series: dict[str, MetricSeries] = {name: [] for name in _METRIC_FIELDS.values()}
    for result in results:
        name = _METRIC_FIELDS.get(result["measurement"])
        if name:
            series[name] = sorted((int(v["ts"]), float(v["value"])) for v in result["values"])
    return Metrics(**series)
