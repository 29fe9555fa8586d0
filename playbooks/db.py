"""Database connection errors (runbook: "Database Connection Error").

Evidence: the service's ``DATABASE_URL`` (set, PostgreSQL scheme, same host/port/database and the
same credentials as the Railway PostgreSQL service's own URL, compared and never shown), the
PostgreSQL service's latest deployment, a real connection with asyncpg, the logs (P1000, P1001,
Prisma, and network errors naming the database's own address: a refused connection to Redis is not
a database problem), ``/ready`` and the live diagnostics endpoint.

``/ready`` on the real backend is a flag set once at boot: 200 proves only that the database
answered then, and 503 ``db:false`` after an outage at boot lasts until the process restarts, even
when the database is back. ``/api/system/diagnostics`` is live: after an outage at runtime the backend
reconnects by itself once the database answers again, no restart or redeploy needed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.changes.logscan import ConnectionErrors, LogScan
from bot.common import pgconnect
from bot.common.pgconnect import BadUrl, ConnectResult, DbUrl
from bot.probe.verdict import Judgement, judge
from playbooks import evidence as ev
from playbooks.base import Evidence, Finding, Playbook, PlaybookContext, conclude
from playbooks.dependencies import dependencies, others_text
from playbooks.evidence import Outcome, Unavailable, attempt

LOG_FILTERS = ("P1000", "P1001", "ECONNREFUSED", "Database connection", "Prisma", "DATABASE_URL")
_LOG_PATTERNS = ("p1000", "p1001", "prisma_error", "db_connect_failed", "db_url_missing", "db_url_invalid")
_PG_RUNNING = ("SUCCESS",)
_REFERENCE = "${{Postgres.DATABASE_URL}}"


@dataclass
class Facts:
    url_name: str | None = None
    url: DbUrl | None = None
    bad_url: BadUrl | None = None
    url_error: str | None = None
    pg_urls: dict[str, DbUrl] | None = None
    pg_error: str | None = None
    pg_status: str | None = None
    pg_status_error: str | None = None
    connect: ConnectResult | None = None
    logs: LogScan | None = None
    log_lines: int = 0
    refused: tuple[ConnectionErrors, ...] = ()  # network errors naming the database's address
    others: tuple[ConnectionErrors, ...] = ()  # ... naming neither the database nor Redis
    logs_error: str | None = None
    ready: tuple[str, Judgement] | None = None
    ready_error: str | None = None
    live: tuple[str, Judgement] | None = None
    live_error: str | None = None

    @property
    def same_target(self) -> tuple[str, DbUrl] | None:
        """The PostgreSQL URL (name, url) with the service's host, port and database, if any."""
        if not self.url or not self.pg_urls:
            return None
        return next(((n, u) for n, u in self.pg_urls.items() if u.target == self.url.target), None)

    @property
    def credentials_differ(self) -> list[str]:
        match = self.same_target
        if not match or not self.url:
            return []
        theirs = match[1]
        return [what for what, differ in (("user", self.url.user != theirs.user),
                                          ("password", self.url.password != theirs.password)) if differ]


async def _url(ctx: PlaybookContext, facts: Facts) -> None:
    found = await attempt(lambda: ev.variables(ctx))
    if not found.ok:
        facts.url_error = found.error
        return
    chosen = pgconnect.effective(found.value)
    if chosen is None:
        return
    facts.url_name = chosen[0]
    try:
        facts.url = pgconnect.parse(chosen[1])
    except BadUrl as exc:
        facts.bad_url = exc
        return
    facts.connect = await pgconnect.try_connect(facts.url, ctx.db_timeout)


async def _postgres(ctx: PlaybookContext, facts: Facts) -> None:
    found, deployment = await asyncio.gather(attempt(lambda: ev.database_variables(ctx)),
                                             attempt(lambda: ev.database_deployment(ctx)))
    if found.ok:
        urls: dict[str, DbUrl] = {}
        for name in ("DATABASE_URL", "DATABASE_PUBLIC_URL"):
            try:
                urls[name] = pgconnect.parse(found.value.get(name, ""))
            except BadUrl:
                continue
        facts.pg_urls = urls
    else:
        facts.pg_error = found.error
    if deployment.ok:
        facts.pg_status = deployment.value.status if deployment.value else "NONE"
    else:
        facts.pg_status_error = deployment.error


async def _endpoint(ctx: PlaybookContext, role: str) -> tuple[str, Judgement]:
    spec = ev.endpoint_for(ctx, role)
    if spec is None:
        raise Unavailable(ctx.t("unavailable.no_endpoint", role=role, profile=ctx.service.profile))
    fetched = await ev.get_shared(ctx, spec.path)
    return spec.path, judge(spec, ev.profile(ctx), fetched)


def _store(outcome: Outcome) -> tuple[Any, str | None]:
    return (outcome.value, None) if outcome.ok else (None, outcome.error)


async def gather_facts(ctx: PlaybookContext) -> Facts:
    facts = Facts()
    _, _, ready, live, logs = await asyncio.gather(
        _url(ctx, facts), _postgres(ctx, facts), attempt(lambda: _endpoint(ctx, "readiness")),
        attempt(lambda: _endpoint(ctx, "db")), attempt(lambda: ev.log_scan(ctx, LOG_FILTERS)))
    facts.ready, facts.ready_error = _store(ready)
    facts.live, facts.live_error = _store(live)
    if logs.ok:
        facts.logs, facts.log_lines = logs.value
        owned = (await dependencies(ctx)).split(facts.logs)
        facts.refused, facts.others = tuple(owned["database"]), tuple(owned["other"])
    else:
        facts.logs_error = logs.error
    return facts


# ---- evidence ---------------------------------------------------------------------------------


def _url_evidence(ctx: PlaybookContext, f: Facts, service: str) -> list[Evidence]:
    check = ctx.t("db.check.url_set", service=service)
    if f.url_error:
        return [Evidence(check, f.url_error, None)]
    if f.url_name is None:
        return [Evidence(check, ctx.t("db.seen.url_missing"), False)]
    where = f.url.where if f.url else "—"
    seen = (ctx.t("db.seen.url_set", where=where) if f.url_name == "DATABASE_URL"
            else ctx.t("db.seen.url_fallback", name=f.url_name, where=where))
    out = [Evidence(check, seen, True)]
    scheme_check = ctx.t("db.check.url_scheme")
    if f.bad_url:
        out[0] = Evidence(check, ctx.t("db.seen.url_set_bad", name=f.url_name), True)
        out.append(Evidence(scheme_check, _bad_url_text(ctx, f.bad_url), False))
    elif f.url:
        out.append(Evidence(scheme_check, ctx.t("db.seen.scheme_ok", scheme=f.url.scheme, host=f.url.host,
                                                 database=f.url.database), True))
    return out


def _bad_url_text(ctx: PlaybookContext, bad: BadUrl) -> str:
    return ctx.t(f"db.seen.bad_{bad.reason}", scheme=bad.scheme, missing=", ".join(bad.missing))


def _target_evidence(ctx: PlaybookContext, f: Facts, service: str) -> list[Evidence]:
    check = ctx.t("db.check.same_target", service=service)
    if f.pg_error:
        return [Evidence(check, f.pg_error, None)]
    if not f.url or f.pg_urls is None:
        return []
    if not f.pg_urls:
        return [Evidence(check, ctx.t("db.seen.pg_no_url"), None)]
    match = f.same_target
    if match is None:
        theirs = f.pg_urls.get("DATABASE_URL") or next(iter(f.pg_urls.values()))
        return [Evidence(check, ctx.t("db.seen.other_target", service=service, mine=f.url.where,
                                      theirs=theirs.where), False)]
    out = [Evidence(check, ctx.t("db.seen.same_target", name=match[0], where=match[1].where), True)]
    differ = f.credentials_differ
    seen = (ctx.t("db.seen.credentials_same") if not differ
            else ctx.t("db.seen.credentials_differ", what=" + ".join(ctx.t(f"db.word.{w}") for w in differ)))
    out.append(Evidence(ctx.t("db.check.credentials"), seen, not differ))
    return out


def _pg_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    check = ctx.t("db.check.pg_deployment")
    if f.pg_status_error:
        return [Evidence(check, f.pg_status_error, None)]
    return [Evidence(check, ctx.t("db.seen.pg_status", status=f.pg_status), f.pg_status in _PG_RUNNING)]


def _connect_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    if not f.url or not f.connect:
        return []
    check = ctx.t("db.check.connect", where=f.url.where)
    result = f.connect
    if result.kind == "ok":
        return [Evidence(check, ctx.t("db.seen.connect_ok", ms=round(result.elapsed_ms)), True)]
    if f.url.private and result.kind in ("dns", "timeout", "refused"):
        return [Evidence(check, ctx.t("db.seen.connect_private", host=f.url.host, detail=result.detail), None)]
    return [Evidence(check, ctx.t(f"db.seen.connect_{result.kind}", detail=result.detail), False)]


def _log_counts(ctx: PlaybookContext, f: Facts) -> str:
    assert f.logs is not None
    parts = [f"{n} × {ctx.t(f'db.pattern.{name}')}" for name in _LOG_PATTERNS if (n := f.logs.count(name))]
    parts += [f"{e.count} × {'/'.join(e.codes)} ({e.address})" for e in f.refused]
    return ", ".join(parts)


def _latest_line(f: Facts) -> str:
    assert f.logs is not None
    hits = [h for h in (f.logs.sample(*_LOG_PATTERNS), *(e.last for e in f.refused)) if h is not None]
    dated = [h for h in hits if h.timestamp is not None]
    latest = max(dated, key=lambda h: h.timestamp) if dated else (hits[0] if hits else None)  # type: ignore[arg-type,return-value]
    return latest.text if latest else ""


def _log_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    check = ctx.t("db.check.logs")
    if f.logs_error:
        return [Evidence(check, f.logs_error, None)]
    assert f.logs is not None
    counts = _log_counts(ctx, f)
    if counts:
        return [Evidence(check, ctx.t("db.seen.logs_errors", counts=counts, line=_latest_line(f)), False)]
    key = "db.seen.logs_connected" if f.logs.count("db_connected") else "db.seen.logs_clean"
    return [Evidence(check, ctx.t(key, n=f.log_lines) + others_text(ctx, list(f.others)), True)]


def _endpoint_evidence(ctx: PlaybookContext, f: Facts) -> list[Evidence]:
    out = []
    if f.ready or f.ready_error:
        path = f.ready[0] if f.ready else "/ready"
        check = ctx.t("db.check.ready", path=path)
        if f.ready_error:
            out.append(Evidence(check, f.ready_error, None))
        else:
            j = f.ready[1]  # type: ignore[index]
            if j.verdict == "ok":
                out.append(Evidence(check, ctx.t("db.seen.ready_ok", detail=j.detail), True))
            elif j.reason == "safe_boot":
                out.append(Evidence(check, ctx.t("db.seen.ready_safe_boot"), False))
            elif j.reason in ("db_down_at_boot", "not_ready"):
                out.append(Evidence(check, ctx.t("db.seen.ready_boot", detail=j.detail), False))
            else:
                out.append(Evidence(check, j.detail, None))
    if f.live or f.live_error:
        path = f.live[0] if f.live else "/api/system/diagnostics"
        check = ctx.t("db.check.live", path=path)
        if f.live_error:
            out.append(Evidence(check, f.live_error, None))
        else:
            j = f.live[1]  # type: ignore[index]
            if j.verdict == "ok":
                out.append(Evidence(check, ctx.t("db.seen.live_ok", detail=j.detail), True))
            elif j.reason == "db_down_now":
                out.append(Evidence(check, ctx.t("db.seen.live_fail", detail=j.detail), False))
            else:
                out.append(Evidence(check, j.detail, None))
    return out


# ---- what it means ---------------------------------------------------------------------------


def _ready_reason(f: Facts) -> str | None:
    return f.ready[1].reason if f.ready and f.ready[1].verdict != "ok" else None


def _live_state(f: Facts) -> bool | None:
    """True: the database answers now (backend's live check or our connection); False: it does not."""
    if f.live and f.live[1].verdict == "ok":
        return True
    if f.connect and f.connect.kind == "ok":
        return True
    if f.live and f.live[1].reason == "db_down_now":
        return False
    return None


def _diagnosis(ctx: PlaybookContext, f: Facts, service: str) -> tuple[str, list[str], list[str]]:
    """(cause, remediation steps, action kinds) for the first problem found, in the runbook's order."""
    railway_service = ctx.service.railway.service if ctx.service.railway and ctx.service.railway.service else service

    def step(key: str, **kw: Any) -> str:
        return ctx.t(f"db.fix.{key}", service=railway_service, reference=_REFERENCE, **kw)

    copy_steps = [step("copy"), step("paste"), step("redeploy")]
    logs = f.logs
    auth_logged = bool(logs and logs.count("p1000"))
    if f.url_error is None and f.url_name is None:
        return ctx.t("db.cause.url_missing", service=service), [step("check_var"), *copy_steps], ["redeploy"]
    if f.bad_url:
        why = _bad_url_text(ctx, f.bad_url)
        return (ctx.t("db.cause.url_invalid", service=service, why=why), [step("scheme"), *copy_steps],
                ["redeploy"])
    if f.pg_status and f.pg_status not in _PG_RUNNING:
        # No button: restarting the backend helps only once PostgreSQL runs again.
        return ctx.t("db.cause.pg_down", status=f.pg_status), [step("check_pg"), step("restart_after_pg")], []
    if f.url and f.pg_urls and f.same_target is None:
        theirs = f.pg_urls.get("DATABASE_URL") or next(iter(f.pg_urls.values()))
        return (ctx.t("db.cause.mismatch", service=service, mine=f.url.where, theirs=theirs.where), copy_steps,
                ["redeploy"])
    if f.credentials_differ or (f.connect and f.connect.kind == "auth") or auth_logged:
        return ctx.t("db.cause.credentials", service=service), copy_steps, ["redeploy"]
    if f.connect and f.connect.kind not in ("ok", "auth") and not (
            f.url and f.url.private and f.connect.kind in ("dns", "timeout", "refused")):
        kind = ctx.t(f"db.kind.{f.connect.kind}")
        fix = step("tls") if f.connect.kind == "tls" else step("reachable", where=f.url.where if f.url else "")
        return ctx.t("db.cause.unreachable", where=f.url.where if f.url else "", kind=kind), [fix, step("check_pg"),
                                                                                          step("redeploy")], []
    live = _live_state(f)
    ready = _ready_reason(f)
    if ready == "safe_boot":
        return ctx.t("db.cause.safe_boot"), [step("safe_boot"), step("redeploy")], ["redeploy"]
    logged_down = bool(logs and (logs.count("p1001", "db_connect_failed") or f.refused))
    if live is False or (logged_down and live is not True):
        if ready in ("db_down_at_boot", "not_ready"):  # down at boot and still down: a restart is needed after
            return ctx.t("db.cause.down_since_boot", service=service), [step("check_pg"), step("logs"),
                                                                          step("restart_after_pg")], []
        # The backend reconnects by itself once the database answers: no restart or redeploy.
        return ctx.t("db.cause.runtime_down"), [step("check_pg"), step("logs"), step("reconnects")], []
    if ready in ("db_down_at_boot", "not_ready"):
        key = "db.cause.boot_flag" if live else "db.cause.not_ready"
        return ctx.t(key, service=service), [step("restart"), step("logs")], ["restart"]
    if f.same_target is not None:
        return ctx.t("db.cause.ok"), [], []
    return ctx.t("db.cause.ok_answers"), [], []


async def run(ctx: PlaybookContext) -> Finding:
    facts = await gather_facts(ctx)
    service = ctx.service.name
    evidence = [*_url_evidence(ctx, facts, service), *_target_evidence(ctx, facts, service),
                *_pg_evidence(ctx, facts), *_connect_evidence(ctx, facts), *_log_evidence(ctx, facts),
                *_endpoint_evidence(ctx, facts)]
    return conclude(ctx, "db", evidence, *_diagnosis(ctx, facts, service))


PLAYBOOK = Playbook(
    name="db",
    symptoms=("database", "db", "ready_failing", "not_ready", "db_down_at_boot", "db_down_now", "no_db_url",
              "p1000", "p1001", "econnrefused", "prisma"),
    needs=("config", "railway", "http", "database"),
    run=run,
    order=10,
)
