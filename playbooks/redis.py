"""Redis (runbook: the readiness check covers "DB + Redis"; the backend's BullMQ queues need it).

Evidence: the service's ``REDIS_URL`` (set, ``redis://``/``rediss://`` with a host; the same host and
port as the Railway Redis service's own URL, credentials compared and never shown), the Redis
service's latest deployment, a real ``PING`` from the bot (redis-py's asyncio client, short timeout),
the network errors in the logs that name Redis's address (ioredis's reconnect loop prints thousands
of bare ``Error: connect ECONNREFUSED host:port`` blocks a minute), and the backend's own Redis
report (``GET /ready/`` on the real backend, read from the boot state).

ioredis retries for ever: once Redis answers again the backend reconnects by itself. A redeploy is
needed only after ``REDIS_URL`` changes, or when Redis was unavailable at boot (BullMQ workers are
then never started).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.changes.logscan import ConnectionErrors, LogScan
from bot.probe.verdict import Judgement, judge
from playbooks import evidence as ev
from playbooks import redisconnect
from playbooks.base import Evidence, Finding, Playbook, PlaybookContext, conclude
from playbooks.dependencies import dependencies, others_text
from playbooks.evidence import Unavailable, attempt
from playbooks.redisconnect import BadRedisUrl, PingResult, RedisUrl

# The backend's lookup order (target-backend.md §4 REDIS_URL).
LOOKUP = ("REDIS_URL", "REDISCLOUD_URL", "REDIS_TLS_URL")
LOG_FILTERS = ("ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "Redis")
FLOOD = 50  # connection error blocks in the lines read
_RUNNING = ("SUCCESS",)
_REFERENCE = "${{Redis.REDIS_URL}}"


@dataclass
class Facts:
    url_name: str | None = None
    url: RedisUrl | None = None
    bad_url: BadRedisUrl | None = None
    url_error: str | None = None
    own_urls: dict[str, RedisUrl] | None = None
    own_error: str | None = None
    status: str | None = None
    status_error: str | None = None
    ping: PingResult | None = None
    logs: LogScan | None = None
    log_lines: int = 0
    logs_error: str | None = None
    refused: tuple[ConnectionErrors, ...] = ()
    others: tuple[ConnectionErrors, ...] = ()  # network errors naming neither Redis nor the database
    report: tuple[str, Judgement] | None = None
    report_error: str | None = None

    @property
    def same_target(self) -> tuple[str, RedisUrl] | None:
        if not self.url or not self.own_urls:
            return None
        return next(((n, u) for n, u in self.own_urls.items() if u.address == self.url.address), None)

    @property
    def credentials_differ(self) -> list[str]:
        match = self.same_target
        if not match or not self.url:
            return []
        theirs = match[1]
        return [what for what, differ in (("user", (self.url.user or "default") != (theirs.user or "default")),
                                          ("password", self.url.password != theirs.password)) if differ]

    @property
    def errors(self) -> int:
        return sum(e.count for e in self.refused)

    @property
    def ping_failed(self) -> bool:
        """The bot's PING failed in a way that says something (not just "private network, out of reach")."""
        if self.ping is None or self.ping.kind == "ok":
            return False
        return not (self.url and self.url.private and self.ping.kind in ("dns", "timeout", "refused"))

    @property
    def reported_down(self) -> bool:
        return bool(self.report and self.report[1].verdict != "ok" and self.report[1].reason == "redis_down_at_boot")


def effective(variables: Any) -> tuple[str, str] | None:
    return next(((name, variables[name]) for name in LOOKUP if variables.get(name)), None)


async def _url(ctx: PlaybookContext, facts: Facts) -> None:
    found = await attempt(lambda: ev.variables(ctx))
    if not found.ok:
        facts.url_error = found.error
        return
    chosen = effective(found.value)
    if chosen is None:
        return
    facts.url_name = chosen[0]
    try:
        facts.url = redisconnect.parse(chosen[1])
    except BadRedisUrl as exc:
        facts.bad_url = exc
        return
    facts.ping = await redisconnect.try_ping(facts.url, min(ctx.db_timeout, 2.0))


async def _redis_service(ctx: PlaybookContext, facts: Facts) -> None:
    found, deployment = await asyncio.gather(attempt(lambda: ev.redis_variables(ctx)),
                                             attempt(lambda: ev.redis_deployment(ctx)))
    if found.ok:
        urls: dict[str, RedisUrl] = {}
        for name in ("REDIS_URL", "REDIS_PUBLIC_URL"):
            try:
                urls[name] = redisconnect.parse(found.value.get(name, ""))
            except BadRedisUrl:
                continue
        facts.own_urls = urls
    else:
        facts.own_error = found.error
    if deployment.ok:
        facts.status = deployment.value.status if deployment.value else "NONE"
    else:
        facts.status_error = deployment.error


async def _report(ctx: PlaybookContext) -> tuple[str, Judgement]:
    spec = ev.endpoint_for(ctx, "redis")
    if spec is None:
        raise Unavailable(ctx.t("unavailable.no_endpoint", role="redis", profile=ctx.service.profile))
    fetched = await ev.get_shared(ctx, spec.path)
    return spec.path, judge(spec, ev.profile(ctx), fetched)


async def gather_facts(ctx: PlaybookContext) -> Facts:
    facts = Facts()
    _, _, report, logs = await asyncio.gather(_url(ctx, facts), _redis_service(ctx, facts),
                                              attempt(lambda: _report(ctx)),
                                              attempt(lambda: ev.log_scan(ctx, LOG_FILTERS)))
    if report.ok:
        facts.report = report.value
    else:
        facts.report_error = report.error
    if logs.ok:
        facts.logs, facts.log_lines = logs.value
        owned = (await dependencies(ctx)).split(facts.logs)
        facts.refused, facts.others = tuple(owned["redis"]), tuple(owned["other"])
    else:
        facts.logs_error = logs.error
    return facts


# ---- evidence ---------------------------------------------------------------------------------


def _url_evidence(ctx: PlaybookContext, f: Facts, service: str) -> list[Evidence]:
    check = ctx.t("redis.check.url_set", service=service)
    if f.url_error:
        return [Evidence(check, f.url_error, None)]
    if f.url_name is None:
        return [Evidence(check, ctx.t("redis.seen.url_missing"), False)]
    form = ctx.t("redis.check.url_form")
    if f.bad_url:
        return [Evidence(check, ctx.t("redis.seen.url_set_bad", name=f.url_name), True),
                Evidence(form, ctx.t(f"redis.seen.bad_{f.bad_url.reason}", scheme=f.bad_url.scheme), False)]
    assert f.url is not None
    return [Evidence(check, ctx.t("redis.seen.url_set", name=f.url_name, where=f.url.where), True),
            Evidence(form, ctx.t("redis.seen.form_ok", scheme=f.url.scheme, where=f.url.where), True)]


def _target_evidence(ctx: PlaybookContext, f: Facts, service: str) -> list[Evidence]:
    check = ctx.t("redis.check.same_target", service=service)
    if f.own_error:
        return [Evidence(check, f.own_error, None)]
    if not f.url or f.own_urls is None:
        return []
    if not f.own_urls:
        return [Evidence(check, ctx.t("redis.seen.no_own_url"), None)]
    match = f.same_target
    if match is None:
        theirs = f.own_urls.get("REDIS_URL") or next(iter(f.own_urls.values()))
        return [Evidence(check, ctx.t("redis.seen.other_target", service=service, mine=f.url.where,
                                      theirs=theirs.where), False)]
    out = [Evidence(check, ctx.t("redis.seen.same_target", name=match[0], where=match[1].where), True)]
    differ = f.credentials_differ
    seen = (ctx.t("redis.seen.credentials_same") if not differ else ctx.t(
        "redis.seen.credentials_differ", what=" + ".join(ctx.t(f"db.word.{w}") for w in differ)))
    out.append(Evidence(ctx.t("redis.check.credentials"), seen, not differ))
    return out


def _status_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    check = ctx.t("redis.check.deployment")
    if f.status_error:
        return [Evidence(check, f.status_error, None)]
    return [Evidence(check, ctx.t("redis.seen.status", status=f.status), f.status in _RUNNING)]


def _ping_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    if not f.url or not f.ping:
        return []
    check = ctx.t("redis.check.ping", where=f.url.where)
    if f.ping.kind == "ok":
        return [Evidence(check, ctx.t("redis.seen.ping_ok", ms=round(f.ping.elapsed_ms)), True)]
    if not f.ping_failed:
        return [Evidence(check, ctx.t("redis.seen.ping_private", host=f.url.host, detail=f.ping.detail), None)]
    return [Evidence(check, ctx.t(f"redis.seen.ping_{f.ping.kind}", detail=f.ping.detail), False)]


def _log_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    check = ctx.t("redis.check.logs")
    if f.logs_error:
        return [Evidence(check, f.logs_error, None)]
    assert f.logs is not None
    if not f.refused:
        return [Evidence(check, ctx.t("redis.seen.logs_clean", n=f.log_lines) + others_text(ctx, list(f.others)),
                         True)]
    counts = ", ".join(f"{e.count} × {'/'.join(e.codes)} ({e.address})" for e in f.refused)
    first, last = f.refused[0].first, f.refused[0].last
    span = (last.timestamp - first.timestamp).total_seconds() if first.timestamp and last.timestamp else None
    # A few errors are a reconnect ioredis got over; a flood is an outage.
    flood = f.errors >= FLOOD
    return [Evidence(check, ctx.t("redis.seen.logs_errors" if flood else "redis.seen.logs_few", counts=counts,
                                  span=span, line=last.text), False if flood else True)]


def _report_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    if f.report_error:
        return [Evidence(ctx.t("redis.check.report", path="/ready/"), f.report_error, None)]
    if not f.report:
        return []
    path, judged = f.report
    check = ctx.t("redis.check.report", path=path)
    if judged.verdict == "ok":
        return [Evidence(check, ctx.t("redis.seen.report_ok", detail=judged.detail), True)]
    if f.reported_down:
        return [Evidence(check, ctx.t("redis.seen.report_down", detail=judged.detail), False)]
    return [Evidence(check, judged.detail, None)]


# ---- what it means ---------------------------------------------------------------------------


def _diagnosis(ctx: PlaybookContext, f: Facts, service: str) -> tuple[str, list[str], list[str]]:
    """(cause, remediation steps, action kinds) for the first problem found."""
    railway_service = ctx.service.railway.service if ctx.service.railway and ctx.service.railway.service else service

    def step(key: str, **kw: Any) -> str:
        return ctx.t(f"redis.fix.{key}", service=railway_service, reference=_REFERENCE, **kw)

    set_steps = [step("reference"), step("redeploy")]
    if f.url_error is None and f.url_name is None:
        return ctx.t("redis.cause.url_missing", service=service), set_steps, ["redeploy"]
    if f.bad_url:
        why = ctx.t(f"redis.seen.bad_{f.bad_url.reason}", scheme=f.bad_url.scheme)
        return ctx.t("redis.cause.url_invalid", service=service, why=why), set_steps, ["redeploy"]
    if f.status and f.status not in _RUNNING:
        # No button: the backend reconnects by itself once Redis runs again.
        return ctx.t("redis.cause.redis_down", status=f.status), [step("check_redis"), step("reconnects")], []
    if f.url and f.own_urls and f.same_target is None:
        theirs = f.own_urls.get("REDIS_URL") or next(iter(f.own_urls.values()))
        return (ctx.t("redis.cause.mismatch", service=service, mine=f.url.where, theirs=theirs.where), set_steps,
                ["redeploy"])
    if f.credentials_differ or (f.ping and f.ping.kind == "auth"):
        return ctx.t("redis.cause.credentials", service=service), set_steps, ["redeploy"]
    if f.ping_failed or f.errors >= FLOOD:
        where = f.url.where if f.url else f.refused[0].address
        kind = ctx.t(f"db.kind.{f.ping.kind}") if f.ping and f.ping_failed else ctx.t("redis.word.refused_in_logs")
        steps = [step("check_redis"), step("check_reference"), step("reconnects")]
        if f.reported_down:  # unavailable since boot: the job workers were never started
            steps[-1] = step("redeploy_after_boot")
        return ctx.t("redis.cause.unreachable", where=where, kind=kind, n=f.errors), steps, []
    if f.reported_down:
        return ctx.t("redis.cause.down_at_boot", service=service), [step("redeploy_after_boot")], ["redeploy"]
    pong = bool(f.ping and f.ping.kind == "ok")
    if f.same_target is not None:
        return ctx.t("redis.cause.ok", pong=pong), [], []
    return ctx.t("redis.cause.ok_partial", pong=pong), [], []


async def run(ctx: PlaybookContext) -> Finding:
    facts = await gather_facts(ctx)
    service = ctx.service.name
    evidence = [*_url_evidence(ctx, facts, service), *_target_evidence(ctx, facts, service),
                *_status_evidence(ctx, facts), *_ping_evidence(ctx, facts), *_log_evidence(ctx, facts),
                *_report_evidence(ctx, facts)]
    return conclude(ctx, "redis", evidence, *_diagnosis(ctx, facts, service))


PLAYBOOK = Playbook(
    name="redis",
    symptoms=("redis", "bullmq", "queue", "queues", "redis_down_at_boot"),
    needs=("config", "railway", "http"),
    run=run,
    order=15,
)
