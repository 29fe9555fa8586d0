"""A Railway API emulator on 127.0.0.1: what the tests and the demo talk to instead of backboard.

``POST /graphql/v2`` executes documents with graphql-core against Railway's real schema when it is
available (``RAILWAY_SCHEMA_PATH``, else ``../shared/railway/schema.graphql``), otherwise against
``railway_min.graphql`` (the fields the bot uses). Documents are validated first: an invalid one gets
HTTP 400 with GraphQL validation errors, as a real server answers. Answers come from a world
(``railway_world.World``, format in docs/railway-world.md); mutations change it as Railway does.

Auth as on Railway: ``Authorization: Bearer`` (account/workspace token) or ``Project-Access-Token``
(one project, one environment). A missing or unknown token gets HTTP 200 with "Not Authorized"; an
unknown project token gets "Project Token not found"; a project token reaching outside its scope, or
asking for ``projects``, gets "Not Authorized".

Every request is recorded (``calls``), and the most requests being answered at once
(``peak_in_flight``: with ``slow`` answers, it shows whether a client's requests overlap or wait for
one another). Faults can be injected in-process (``inject``) or over HTTP for out-of-process use:
``POST /_control/faults`` (JSON: ``kind``, ``count``, ``operation``, ``retry_after``, ``status``,
``delay``), ``DELETE /_control/faults``, ``GET /_control/calls``, ``POST /_control/deployments``
(``World.add_deployment`` arguments: "a bad deploy lands").

Run standalone: ``python -m sandbox.emulators.railway [--world FILE] [--port N] [--stage-seconds S]``; it prints
its GraphQL URL (use it as RAILWAY_API_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import graphql
from aiohttp import web

import sandbox
from bot.i18n import t
from sandbox.emulators.base import LoopbackServer, serve_until_signalled
from sandbox.emulators.railway_data import VolumeDatabases
from sandbox.emulators.railway_world import (
    BackupRecord,
    DeploymentRecord,
    LogRecord,
    VolumeRecord,
    World,
    WorldError,
    iso,
    parse_when,
)

MIN_SCHEMA_PATH = Path(__file__).with_name("railway_min.graphql")
WORLDS = Path(__file__).with_name("worlds")
FAULT_KINDS = ("rate_limit", "not_authorized", "server_error", "slow", "malformed", "graphql_error", "no_answer",
               "hang")
NOT_AUTHORIZED = "Not Authorized"

_BAD_GATEWAY = ("<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
                "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
                "</body>\r\n</html>\r\n")
_ACCESS_DENIED = ("<!DOCTYPE html><html lang=\"en-US\"><head><title>Access denied | backboard.railway.com used "
                  "Cloudflare to restrict access</title></head><body><h1>Error 1020</h1><p>Access denied</p>"
                  "</body></html>")


def default_schema_path() -> Path:
    """``RAILWAY_SCHEMA_PATH``, else Railway's real schema next to the repo, else the minimal one."""
    override = os.environ.get("RAILWAY_SCHEMA_PATH")
    if override:
        return Path(override)
    shared = Path(sandbox.__file__).resolve().parents[2] / "shared" / "railway" / "schema.graphql"
    return shared if shared.exists() else MIN_SCHEMA_PATH


@lru_cache(maxsize=4)
def load_schema(path: Path) -> graphql.GraphQLSchema:
    # assume_valid: graphql-core 3.3 rejects Railway's schema otherwise (Team.id deprecation quirk).
    return graphql.build_schema(path.read_text(encoding="utf-8"), assume_valid=True)


@dataclass
class Call:
    """One request as the emulator saw it (no tokens: ``auth`` is the header kind)."""

    operation_name: str | None
    fields: tuple[str, ...]
    kind: str  # "query" | "mutation" | "subscription"
    variables: dict[str, Any]
    auth: str | None  # "bearer" | "project" | None
    time: float
    fault: str | None = None
    user_agent: str | None = None


@dataclass
class Fault:
    kind: str
    count: int | None = 1  # None: until cleared
    operation: str | None = None  # operation name or root field; None: every request
    retry_after: float | None = 1.0
    status: int = 502
    delay: float = 1.0
    used: int = field(default=0)

    def matches(self, call: Call) -> bool:
        return self.operation is None or self.operation == call.operation_name or self.operation in call.fields


class RailwayEmulator(LoopbackServer):
    def __init__(self, world: Mapping[str, Any] | str | Path | World | None = None, *,
                 schema_path: str | Path | None = None, stage_seconds: float = 0.2,
                 databases: Mapping[str, str] | None = None) -> None:
        """``databases``: volume id → DSN of a real PostgreSQL database holding that volume's data, so its
        backups and restores copy real data (``railway_data.VolumeDatabases``)."""
        if world is None:
            world = WORLDS / "demo.json"
        self.world = world if isinstance(world, World) else World(world, stage_seconds=stage_seconds)
        self.schema_path = Path(schema_path) if schema_path else default_schema_path()
        self.schema = load_schema(self.schema_path)
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.data = VolumeDatabases(databases or {})

    @property
    def graphql_url(self) -> str:
        assert self.url, "emulator not started"
        return self.url + "/graphql/v2"

    # ---- lifecycle ----------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/graphql/v2", self._graphql)
        app.router.add_post("/_control/faults", self._control_inject)
        app.router.add_delete("/_control/faults", self._control_clear)
        app.router.add_get("/_control/calls", self._control_calls)
        app.router.add_post("/_control/deployments", self._control_deploy)
        return app


    async def stop(self) -> None:
        await super().stop()
        await self.data.close()

    # ---- in-process control -------------------------------------------------------------------

    def inject(self, kind: str, *, count: int | None = 1, operation: str | None = None,
               retry_after: float | None = 1.0, status: int = 502, delay: float = 1.0) -> Fault:
        """Make the next ``count`` matching requests fail: ``rate_limit`` (429 + Retry-After and
        X-RateLimit-* headers; ``retry_after=None`` leaves Retry-After out), ``not_authorized``,
        ``server_error`` (``status``, HTML body), ``slow`` (answer normally after ``delay`` s),
        ``malformed`` (HTML with HTTP 200), ``no_answer`` (Railway acts — a mutation changes the world —
        but the answer is held ``delay`` s and then a proxy's 504 comes instead: a client with a shorter
        timeout never hears back) or ``hang`` (the same wait and 504, and Railway does nothing)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, count, operation, retry_after, status, delay)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def mutations(self, field_name: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.kind == "mutation" and (field_name is None or field_name in c.fields)]

    def queries(self, field_name: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.kind == "query" and (field_name is None or field_name in c.fields)]

    def _take_fault(self, call: Call) -> Fault | None:
        for fault in self.faults:
            if fault.matches(call):
                fault.used += 1
                if fault.count is not None and fault.used >= fault.count:
                    self.faults.remove(fault)
                return fault
        return None

    # ---- GraphQL endpoint ---------------------------------------------------------------------

    async def _graphql(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.text())
            query = body["query"]
            variables = body.get("variables") or {}
            operation_name = body.get("operationName")
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _errors(400, "Must provide a JSON body with a query string.")
        try:
            document = graphql.parse(query)
        except graphql.GraphQLError as exc:
            return web.json_response({"errors": [exc.formatted]}, status=400)
        operation = graphql.get_operation_ast(document, operation_name)
        fields = tuple(s.name.value for s in operation.selection_set.selections
                       if isinstance(s, graphql.FieldNode)) if operation else ()
        call = Call(operation_name or (operation.name.value if operation and operation.name else None), fields,
                    operation.operation.value if operation else "unknown", variables, _auth_kind(request),
                    time.time(), user_agent=request.headers.get("User-Agent"))
        self.calls.append(call)

        fault = self._take_fault(call)
        if fault is not None:
            call.fault = fault.kind
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "hang":
                return await _held(fault)
            elif fault.kind != "no_answer":
                return _fault_response(fault)

        errors = graphql.validate(self.schema, document)
        if errors:
            return web.json_response({"errors": [e.formatted for e in errors]}, status=400)
        context, problem = self._authorise(request)
        if problem:
            return web.json_response({"data": None, "errors": [{"message": problem}]})
        self.world.settle()
        result = graphql.execute(self.schema, document, root_value=_Root(), context_value=context,
                                 variable_values=variables, operation_name=operation_name)
        assert isinstance(result, graphql.ExecutionResult)
        if fault is not None and fault.kind == "no_answer":  # it ran; the answer is lost on the way back
            return await _held(fault)
        return web.json_response(result.formatted)

    def _authorise(self, request: web.Request) -> tuple[_Context, str | None]:
        project_token = request.headers.get("Project-Access-Token")
        if project_token:
            scope = self.world.project_tokens.get(project_token.strip())
            return _Context(self.world, scope, self.data), None if scope else "Project Token not found"
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        ok = bool(token) and (self.world.open or token in self.world.api_tokens)
        return _Context(self.world, None, self.data), None if ok else NOT_AUTHORIZED

    # ---- HTTP control -------------------------------------------------------------------------

    async def _control_inject(self, request: web.Request) -> web.Response:
        try:
            fault = self.inject(**await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "fault": asdict(fault)})

    async def _control_clear(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"ok": True})

    async def _control_calls(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": [asdict(c) for c in self.calls]})

    async def _control_deploy(self, request: web.Request) -> web.Response:
        try:
            dep = self.world.add_deployment(**await request.json())
        except (ValueError, TypeError, KeyError, WorldError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "id": dep.id})


# ---- resolvers ----------------------------------------------------------------------------------


@dataclass
class _Context:
    world: World
    scope: tuple[str, str] | None  # (projectId, environmentId) of a project token
    data: VolumeDatabases

    def check(self, project_id: str, environment_id: str | None = None) -> None:
        if self.scope and (project_id != self.scope[0] or (environment_id and environment_id != self.scope[1])):
            raise graphql.GraphQLError(NOT_AUTHORIZED)


class _Root:
    """Query and mutation fields; graphql-core calls ``method(info, **arguments)`` by field name."""

    # queries

    def projects(self, info: Any, first: int | None = None, after: str | None = None, **_: Any) -> dict:
        ctx: _Context = info.context
        if ctx.scope:
            raise graphql.GraphQLError(NOT_AUTHORIZED)
        return _connection([_project(ctx.world, p) for p in ctx.world.projects.values()], first, after)

    def project(self, info: Any, id: str) -> dict:
        ctx: _Context = info.context
        project = ctx.world.project(id)
        ctx.check(project["id"])
        return _project(ctx.world, project)

    def projectToken(self, info: Any) -> dict:
        ctx: _Context = info.context
        if not ctx.scope:
            raise graphql.GraphQLError("Project Token not found")
        project_id, environment_id = ctx.scope
        world = ctx.world
        return {"id": "project-token", "name": "chatops", "displayToken": "****", "projectId": project_id,
                "environmentId": environment_id, "createdAt": iso(world.loaded_at),
                "project": _project(world, world.projects[project_id]),
                "environment": _environment(world, world.environments[environment_id])}

    def serviceInstance(self, info: Any, serviceId: str, environmentId: str) -> dict:
        ctx: _Context = info.context
        world = ctx.world
        service = world.service(serviceId)
        environment = world.environment(environmentId, service["projectId"])
        ctx.check(service["projectId"], environment["id"])
        deployments = [d for d in world.deployments.values()
                       if d.service_id == service["id"] and d.environment_id == environment["id"]]
        latest = max(deployments, key=lambda d: d.created_at, default=None)
        active = world.active(service["id"], environment["id"])
        return {"id": f"{service['id']}:{environment['id']}", "serviceId": service["id"],
                "serviceName": service["name"], "environmentId": environment["id"],
                "createdAt": iso(world.loaded_at), "updatedAt": iso(world.loaded_at),
                "latestDeployment": _deployment(world, latest) if latest else None,
                "activeDeployments": [_deployment(world, active)] if active else []}

    def deployments(self, info: Any, input: dict, first: int | None = None, after: str | None = None,
                    **_: Any) -> dict:
        """The newest ``first`` matches, in world order: Railway promises no order, so clients must sort."""
        ctx: _Context = info.context
        if ctx.scope:
            ctx.check(input.get("projectId") or ctx.scope[0], input.get("environmentId") or ctx.scope[1])
            input = {**input, "projectId": ctx.scope[0], "environmentId": ctx.scope[1]}
        status = input.get("status") or {}
        found = [d for d in ctx.world.deployments.values()
                 if all(input.get(k) in (None, v) for k, v in (("projectId", d.project_id),
                                                              ("environmentId", d.environment_id),
                                                              ("serviceId", d.service_id)))
                 and (not status.get("in") or d.status in status["in"])
                 and d.status not in (status.get("notIn") or ())]
        start = int(after) + 1 if after else 0
        newest = sorted(found, key=lambda d: d.created_at, reverse=True)
        keep = {d.id for d in newest[start:start + first if first is not None else None]}
        nodes = [_deployment(ctx.world, d) for d in found if d.id in keep]
        return {"edges": [{"cursor": str(start + i), "node": n} for i, n in enumerate(nodes)],
                "pageInfo": {"hasNextPage": start + len(nodes) < len(found), "hasPreviousPage": start > 0,
                             "startCursor": str(start) if nodes else None,
                             "endCursor": str(start + len(nodes) - 1) if nodes else None}}

    def deployment(self, info: Any, id: str) -> dict:
        return _deployment(info.context.world, _visible(info, id))

    def deploymentLogs(self, info: Any, deploymentId: str, **args: Any) -> list[dict]:
        dep = _visible(info, deploymentId)
        return _log_window(info.context.world, dep, dep.logs, **args)

    def buildLogs(self, info: Any, deploymentId: str, **args: Any) -> list[dict]:
        dep = _visible(info, deploymentId)
        return _log_window(info.context.world, dep, dep.build_logs, **args)

    def environmentLogs(self, info: Any, environmentId: str, filter: str | None = None,
                        anchorDate: str | None = None, beforeDate: str | None = None, afterDate: str | None = None,
                        beforeLimit: int | None = None, afterLimit: int | None = None) -> list[dict]:
        ctx: _Context = info.context
        world = ctx.world
        environment = world.environment(environmentId)
        ctx.check(environment["projectId"], environment["id"])
        pairs = world.environment_lines(environment["id"])
        owner = {id(line): dep for dep, line in pairs}
        start = parse_when(afterDate, 0) if afterDate else None
        end = parse_when(beforeDate, 0) if beforeDate else None
        anchor = parse_when(anchorDate, 0) if anchorDate else time.time()
        lines = [line for _, line in pairs]

        def service_of(line: LogRecord) -> str:
            return owner[id(line)].service_id

        before = world.logs(lines, filter=filter, start=start, end=min(anchor, end or anchor), limit=beforeLimit,
                            service_of=service_of)
        after = world.logs([ln for ln in lines if ln.ts > anchor], filter=filter, start=start, end=end,
                           limit=None, service_of=service_of)[: afterLimit or 0]
        return [_log(owner[id(line)], line) for line in before + after]

    def variables(self, info: Any, projectId: str, environmentId: str, serviceId: str | None = None,
                  unrendered: bool | None = None) -> dict[str, str]:
        ctx: _Context = info.context
        ctx.check(projectId, environmentId)
        if serviceId is None:
            return {}
        service = ctx.world.service(serviceId, projectId)
        if unrendered:
            return dict(ctx.world.variables.get(service["id"], {}))
        return ctx.world.rendered_variables(service["id"])

    def metrics(self, info: Any, measurements: list[str], startDate: str, endDate: str | None = None,
                projectId: str | None = None, environmentId: str | None = None, serviceId: str | None = None,
                sampleRateSeconds: int | None = None, **_: Any) -> list[dict]:
        ctx: _Context = info.context
        world = ctx.world
        if not serviceId:
            return [{"measurement": m, "tags": {}, "values": []} for m in measurements]
        service = world.service(serviceId)
        ctx.check(service["projectId"], environmentId)
        start = parse_when(startDate, 0)
        end = parse_when(endDate, 0) if endDate else time.time()
        return [{"measurement": m, "tags": {"projectId": service["projectId"]},
                 "values": [{"ts": ts, "value": v}
                            for ts, v in world.metric_points(service["id"], m, start, end, sampleRateSeconds)]}
                for m in measurements]

    def environment(self, info: Any, id: str, projectId: str | None = None) -> dict:
        ctx: _Context = info.context
        world = ctx.world
        env = world.environment(id, projectId)
        ctx.check(env["projectId"], env["id"])
        volumes = [v for v in world.volumes.values() if v.environment_id == env["id"]]
        return {**_environment(world, env), "volumeInstances": lambda info, first=None, after=None, **_: _connection(
            [_volume(world, v) for v in volumes], first, after)}

    def volumeInstanceBackupList(self, info: Any, volumeInstanceId: str) -> list[dict]:
        volume = _visible_volume(info, volumeInstanceId)
        return [_backup(b) for b in info.context.world.visible_backups(volume.id)]

    def volumeInstanceBackupScheduleList(self, info: Any, volumeInstanceId: str) -> list[dict]:
        return list(_visible_volume(info, volumeInstanceId).schedules)

    def workflowStatus(self, info: Any, workflowId: str) -> dict:
        return info.context.world.workflow_status(workflowId)

    # mutations

    def volumeInstanceBackupCreate(self, info: Any, volumeInstanceId: str, name: str | None = None) -> dict:
        volume = _visible_volume(info, volumeInstanceId)
        world, data = info.context.world, info.context.data
        flow = world.create_backup(volume.id, name)
        if volume.id in data:
            data.backup(volume.id, flow, volume.backups[-1])
        return {"workflowId": flow.id}

    def volumeInstanceBackupRestore(self, info: Any, volumeInstanceId: str, volumeInstanceBackupId: str,
                                    **_: Any) -> dict:
        volume = _visible_volume(info, volumeInstanceId)
        flow = info.context.world.restore_backup(volume.id, volumeInstanceBackupId)
        if volume.id in info.context.data:
            info.context.data.restore(volume.id, flow, volumeInstanceBackupId)
        return {"workflowId": flow.id}

    def deploymentRollback(self, info: Any, id: str) -> bool:
        info.context.world.rollback(_visible(info, id).id)
        return True

    def deploymentRedeploy(self, info: Any, id: str, usePreviousImageTag: bool | None = None) -> dict:
        world = info.context.world
        return _deployment(world, world.redeploy(_visible(info, id).id))

    def deploymentRestart(self, info: Any, id: str) -> bool:
        _visible(info, id)
        return True


def _visible(info: Any, deployment_id: str) -> DeploymentRecord:
    ctx: _Context = info.context
    dep = ctx.world.deployment(deployment_id)
    ctx.check(dep.project_id, dep.environment_id)
    return dep


def _visible_volume(info: Any, volume_instance_id: str) -> VolumeRecord:
    ctx: _Context = info.context
    volume = ctx.world.volume(volume_instance_id)
    ctx.check(ctx.world.environments[volume.environment_id]["projectId"], volume.environment_id)
    return volume


def _volume(world: World, volume: VolumeRecord) -> dict:
    return {"id": volume.id, "serviceId": volume.service_id, "environmentId": volume.environment_id,
            "mountPath": volume.mount_path, "sizeMB": volume.size_mb, "currentSizeMB": volume.current_size_mb,
            "volumeId": volume.id, "createdAt": iso(world.loaded_at), "isPendingDeletion": False}


def _backup(backup: BackupRecord) -> dict:
    return {"id": backup.id, "externalId": backup.id, "name": backup.name, "createdAt": iso(backup.created_at),
            "expiresAt": iso(backup.expires_at) if backup.expires_at else None, "usedMB": backup.used_mb,
            "referencedMB": backup.referenced_mb, "scheduleId": backup.schedule_id, "creatorId": None,
            "volumeInstanceSizeMB": None}


def _connection(nodes: list[dict], first: int | None, after: str | None) -> dict:
    start = int(after) + 1 if after else 0
    page = nodes[start:start + first if first is not None else None]
    return {"edges": [{"cursor": str(start + i), "node": n} for i, n in enumerate(page)],
            "pageInfo": {"hasNextPage": start + len(page) < len(nodes), "hasPreviousPage": start > 0,
                         "startCursor": str(start) if page else None,
                         "endCursor": str(start + len(page) - 1) if page else None}}


def _project(world: World, project: Mapping[str, Any]) -> dict:
    at = iso(world.loaded_at)
    return {"id": project["id"], "name": project["name"], "createdAt": at, "updatedAt": at, "deletedAt": None,
            "environments": lambda info, first=None, after=None, **_: _connection(
                [_environment(world, world.environments[e]) for e in project["environments"]], first, after),
            "services": lambda info, first=None, after=None, **_: _connection(
                [_service(world, world.services[s]) for s in project["services"]], first, after)}


def _environment(world: World, env: Mapping[str, Any]) -> dict:
    at = iso(world.loaded_at)
    return {**env, "isEphemeral": False, "createdAt": at, "updatedAt": at}


def _service(world: World, service: Mapping[str, Any]) -> dict:
    at = iso(world.loaded_at)
    return {**service, "createdAt": at, "updatedAt": at}


def _deployment(world: World, dep: DeploymentRecord) -> dict:
    return {
        "id": dep.id, "status": dep.status, "createdAt": iso(dep.created_at),
        "updatedAt": iso(max(dep.created_at, dep.status_updated_at)), "statusUpdatedAt": iso(dep.status_updated_at),
        "canRollback": dep.rollbackable, "canRedeploy": dep.redeployable, "deploymentStopped": False,
        "meta": dep.meta, "serviceId": dep.service_id, "environmentId": dep.environment_id,
        "projectId": dep.project_id, "url": dep.url, "staticUrl": dep.url, "snapshotId": None,
        "instances": [], "sockets": [], "suggestAddServiceDomain": False,
        "service": lambda info, **_: _service(world, world.services[dep.service_id]),
        "environment": lambda info, **_: _environment(world, world.environments[dep.environment_id]),
    }


def _log_window(world: World, dep: DeploymentRecord, lines: list[LogRecord], filter: str | None = None,
                limit: int | None = None, startDate: str | None = None, endDate: str | None = None) -> list[dict]:
    start = parse_when(startDate, 0) if startDate else None
    end = parse_when(endDate, 0) if endDate else None
    picked = world.logs(lines, filter=filter, start=start, end=end, limit=100 if limit is None else min(limit, 5000))
    return [_log(dep, line) for line in picked]


def _log(dep: DeploymentRecord, line: LogRecord) -> dict:
    return {"timestamp": _nanos(line.ts), "message": line.message, "severity": line.severity,
            "attributes": [{"key": k, "value": v} for k, v in line.attributes.items()],
            "tags": {"deploymentId": dep.id, "serviceId": dep.service_id, "environmentId": dep.environment_id,
                     "projectId": dep.project_id}}


def _nanos(ts: float) -> str:
    """RFC 3339 with nanoseconds, as Railway's log timestamps are."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _auth_kind(request: web.Request) -> str | None:
    if request.headers.get("Project-Access-Token"):
        return "project"
    if request.headers.get("Authorization", "").lower().startswith("bearer"):
        return "bearer"
    return None


def _errors(status: int, message: str) -> web.Response:
    return web.json_response({"errors": [{"message": message}]}, status=status)


async def _held(fault: Fault) -> web.Response:
    """No answer for ``fault.delay`` seconds, then the 504 a proxy in front of the API gives up with."""
    await asyncio.sleep(fault.delay)
    return web.Response(status=504, text=_BAD_GATEWAY.format(status=504).replace("Bad Gateway", "Gateway Timeout"),
                        content_type="text/html")


def _fault_response(fault: Fault) -> web.Response:
    if fault.kind == "rate_limit":
        wait = fault.retry_after if fault.retry_after is not None else 60.0
        headers = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(math.ceil(time.time() + wait))}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        return web.json_response({"errors": [{"message": "Rate limit exceeded"}]}, status=429, headers=headers)
    if fault.kind == "not_authorized":
        return web.json_response({"data": None, "errors": [
            {"message": NOT_AUTHORIZED, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]})
    if fault.kind == "graphql_error":
        # The gateway's resolver failure: HTTP 200, no data, "Problem processing request" with a
        # traceId and no code (shared/railway/API.md §7).
        return web.json_response({"data": None, "errors": [
            {"message": "Problem processing request", "traceId": "4217803951926384739"}]})
    if fault.kind == "server_error":
        return web.Response(status=fault.status, text=_BAD_GATEWAY.format(status=fault.status),
                            content_type="text/html")
    return web.Response(status=200, text=_ACCESS_DENIED, content_type="text/html")  # malformed


# ---- standalone -----------------------------------------------------------------------------------


def _parser(lang: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.emulators.railway",
                                     description=t("railway.emulator.about", lang))
    parser.add_argument("--host", default="127.0.0.1", help=t("railway.emulator.host", lang))
    parser.add_argument("--port", type=int, default=0, help=t("railway.emulator.port", lang))
    parser.add_argument("--world", default=str(WORLDS / "demo.json"), help=t("railway.emulator.world", lang))
    parser.add_argument("--stage-seconds", type=float, default=5.0, help=t("railway.emulator.stage_seconds", lang))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser(os.environ.get("CHATOPS_LANGUAGE")).parse_args(argv)
    emulator = RailwayEmulator(args.world, stage_seconds=args.stage_seconds)
    asyncio.run(serve_until_signalled(emulator, args.host, args.port, suffix="/graphql/v2"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
