"""CORS errors (runbook: "CORS Errors").

Each frontend origin of the service (``frontend_origins`` in the services file) is checked twice:
predicted from ``CORS_ORIGIN`` / ``CORS_ORIGINS`` / ``FRONTEND_URL`` parsed as the backend parses
them (``cors_rules``), and live, with a preflight (``OPTIONS`` + ``Origin`` +
``Access-Control-Request-Method``) and a ``GET`` with ``Origin``. The backend's own allow-list from
``/api/cors-debug`` (read without Origin) shows whether the running process has the variables' list.

The fix names the exact value to put in the variable. Browsers refuse a www/apex match (the backend
answers with its allow-list entry, not the origin), so both forms must be listed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.probe.fetch import Fetched
from playbooks import cors_rules
from playbooks import evidence as ev
from playbooks.base import Action, Evidence, Finding, Playbook, PlaybookContext
from playbooks.evidence import Outcome, attempt

DEFAULT_PATH = "/api/cors-debug"


@dataclass(frozen=True)
class Answer:
    status: int
    allow_origin: str | None
    allow_credentials: str | None

    def allows(self, origin: str) -> bool:
        return (200 <= self.status < 300 and self.allow_origin is not None
                and self.allow_origin.rstrip("/").lower() == origin.rstrip("/").lower())

    @property
    def credentials(self) -> bool:
        return (self.allow_credentials or "").lower() == "true"


def _answer(fetched: Fetched) -> Answer:
    return Answer(fetched.status, fetched.headers.get("access-control-allow-origin"),
                  fetched.headers.get("access-control-allow-credentials"))


async def _live(ctx: PlaybookContext, path: str, origin: str) -> tuple[Outcome, Outcome]:
    preflight, get = await asyncio.gather(
        attempt(lambda: ev.request(ctx, path, method="OPTIONS", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "content-type"})),
        attempt(lambda: ev.request(ctx, path, headers={"Origin": origin})))
    return (Outcome(_answer(preflight.value)) if preflight.ok else preflight,
            Outcome(_answer(get.value)) if get.ok else get)


async def _running_allowlist(ctx: PlaybookContext, path: str) -> list[str] | None:
    """The running process's allow-list from the debug endpoint, or None when it has none."""
    fetched = await ev.get_shared(ctx, path)
    body = ev.json_body(fetched)
    if fetched.status != 200 or not isinstance(body, dict) or not isinstance(body.get("allowedOriginsParsed"), list):
        return None
    return [str(o) for o in body["allowedOriginsParsed"]]


@dataclass
class OriginResult:
    origin: str
    predicted: cors_rules.Match | None
    preflight: Outcome
    get: Outcome

    @property
    def live_known(self) -> bool:
        return self.preflight.ok or self.get.ok

    @property
    def live_ok(self) -> bool | None:
        answers = [o.value for o in (self.preflight, self.get) if o.ok]
        if not answers:
            return None
        return all(a.allows(self.origin) and a.credentials for a in answers)

    @property
    def works(self) -> bool:
        live = self.live_ok
        if live is not None:
            return live
        return bool(self.predicted and self.predicted.works_in_browser)


def _seen_answer(ctx: PlaybookContext, origin: str, outcome: Outcome, kind: str) -> Evidence:
    check = ctx.t(f"cors.check.{kind}", origin=origin)
    if not outcome.ok:
        return Evidence(check, outcome.error or "", None)
    a: Answer = outcome.value
    acao = a.allow_origin or ctx.t("cors.word.none")
    acac = a.allow_credentials or ctx.t("cors.word.none")
    if a.allows(origin) and a.credentials:
        return Evidence(check, ctx.t("cors.seen.allowed", status=a.status, acao=acao, acac=acac), True)
    if a.status >= 400:
        return Evidence(check, ctx.t(f"cors.seen.rejected_{kind}", status=a.status), False)
    if a.allow_origin is None:
        return Evidence(check, ctx.t("cors.seen.no_acao", status=a.status), False)
    if not a.allows(origin):
        return Evidence(check, ctx.t("cors.seen.other_acao", status=a.status, acao=acao), False)
    return Evidence(check, ctx.t("cors.seen.no_credentials", status=a.status, acac=acac), False)


def _predicted_evidence(ctx: PlaybookContext, r: OriginResult) -> Evidence:
    check = ctx.t("cors.check.variables", origin=r.origin)
    m = r.predicted
    assert m is not None
    if m.rule == "exact-match":
        return Evidence(check, ctx.t("cors.seen.exact", entry=m.entry), True)
    if m.rule == "dynamic":
        return Evidence(check, ctx.t("cors.seen.dynamic"), True)
    if m.rule == "hostname-match":
        return Evidence(check, ctx.t("cors.seen.hostname", entry=m.entry), False)
    return Evidence(check, ctx.t("cors.seen.missing"), False)


def _issue_evidence(ctx: PlaybookContext, issue: cors_rules.TokenIssue) -> Evidence:
    return Evidence(ctx.t("cors.check.token", variable=issue.variable),
                    ctx.t(f"cors.seen.token_{issue.kind}", token=issue.token), False)


async def run(ctx: PlaybookContext) -> Finding:
    service = ctx.service.name
    spec = None
    try:
        spec = ev.endpoint_for(ctx, "cors")
    except ev.Unavailable:
        spec = None
    path = spec.path if spec else DEFAULT_PATH
    origins = list(dict.fromkeys(cors_rules.normalise_origin(o) for o in ctx.service.frontend_origins))
    found, running, *live = await asyncio.gather(
        attempt(lambda: ev.variables(ctx)), attempt(lambda: _running_allowlist(ctx, path)),
        *(_live(ctx, path, origin) for origin in origins))
    env: dict[str, str] = dict(found.value) if found.ok else {}
    allowlist = cors_rules.build(env) if found.ok else None
    results = [OriginResult(o, cors_rules.match(o, allowlist) if allowlist else None, pre, get)
               for o, (pre, get) in zip(origins, live, strict=True)]

    evidence: list[Evidence] = []
    raw = ", ".join(f"{name}={env[name]}" for name in cors_rules.VARIABLES if env.get(name))
    if allowlist is None:
        evidence.append(Evidence(ctx.t("cors.check.allowlist"), found.error or "", None))
    else:
        evidence.append(Evidence(ctx.t("cors.check.allowlist"), ctx.t(
            "cors.seen.allowlist", raw=raw or ctx.t("cors.word.unset"), entries=", ".join(allowlist.entries)), True))
        evidence += [_issue_evidence(ctx, issue) for issue in allowlist.issues]
    stale = False
    if running.ok and running.value is not None and allowlist is not None:
        same = {e.lower() for e in running.value} == {e.lower() for e in allowlist.entries}
        stale = not same
        seen = ("cors.seen.running_same" if same else "cors.seen.running_differs")
        evidence.append(Evidence(ctx.t("cors.check.running", path=path),
                                 ctx.t(seen, entries=", ".join(running.value)), same))
    elif not running.ok:
        evidence.append(Evidence(ctx.t("cors.check.running", path=path), running.error or "", None))
    for r in results:
        if r.predicted is not None:
            evidence.append(_predicted_evidence(ctx, r))
        evidence.append(_seen_answer(ctx, r.origin, r.preflight, "preflight"))
        evidence.append(_seen_answer(ctx, r.origin, r.get, "get"))

    cause, steps, kinds = _diagnosis(ctx, results, allowlist, env, path, stale, service)
    if not origins:
        verdict = "problem" if any(e.ok is False for e in evidence) else "unknown"
    elif any(e.ok is False for e in evidence):
        verdict = "problem"
    elif any(e.ok for e in evidence):
        verdict = "ok"
    else:
        verdict = "unknown"
        cause, steps, kinds = ctx.t("cors.cause.unknown"), [ctx.t("cors.fix.more_evidence")], []
    actions = tuple(Action(k, service, "cors", f"diagnose.action.{k}") for k in kinds) if verdict == "problem" else ()
    return Finding("cors", verdict, cause, tuple(evidence), tuple(steps), actions)


def _diagnosis(ctx: PlaybookContext, results: list[OriginResult], allowlist: cors_rules.Allowlist | None,
               env: dict[str, str], path: str, stale: bool, service: str) -> tuple[str, list[str], list[Any]]:
    railway_service = ctx.service.railway.service if ctx.service.railway and ctx.service.railway.service else service

    def step(key: str, **kw: Any) -> str:
        return ctx.t(f"cors.fix.{key}", service=railway_service, path=path, **kw)

    issues = allowlist.issues if allowlist else []
    wildcard = [i for i in issues if i.kind in (cors_rules.DROPPED_WILDCARD, cors_rules.LITERAL_WILDCARD)]
    if not results:
        steps = [step("add_origins", name=service)]
        if issues:
            steps.insert(0, step("wildcard") if wildcard else step("tokens"))
        return ctx.t("cors.cause.no_origins", service=service), steps, []
    failing = [r for r in results if not r.works]
    # Live answers fine, but the variables would break an origin at the next deploy.
    pending = [r for r in results if r.live_ok and r.predicted is not None and not r.predicted.works_in_browser]
    variable = cors_rules.target_variable(env)
    if not failing and not pending:
        if issues:
            return (ctx.t("cors.cause.useless_tokens", tokens=", ".join(i.token for i in issues)),
                    [step("wildcard") if wildcard else step("tokens"), step("redeploy")], [])
        return ctx.t("cors.cause.ok", n=len(results)), [], []
    broken = failing or pending
    fixed_by_variables = [r for r in failing if r.predicted is not None and r.predicted.works_in_browser]
    if failing and len(fixed_by_variables) == len(failing):
        origins = ", ".join(r.origin for r in failing)
        return (ctx.t("cors.cause.not_redeployed", origins=origins, stale=stale),
                [step("redeploy"), step("verify", origin=failing[0].origin)], ["redeploy"])
    need = [r.origin for r in broken]
    if allowlist is None:  # the current value is unknown: never suggest a value that would drop entries
        steps = [step("add", origins=", ".join(f"`{o}`" for o in need))]
    else:
        value = cors_rules.suggested_value(env, variable, need)
        steps = [step("set", variable=variable, value=value, origins=", ".join(need))]
    first = broken[0]
    m = first.predicted
    if m is not None and m.rule == "hostname-match":
        cause = ctx.t("cors.cause.www_apex", origin=first.origin, entry=m.entry)
        steps.append(step("both_forms", origin=first.origin, entry=m.entry))
    elif wildcard:
        cause = ctx.t("cors.cause.wildcard", origin=first.origin, tokens=", ".join(i.token for i in wildcard))
        steps.append(step("wildcard"))
    elif pending and not failing:
        cause = ctx.t("cors.cause.pending", origin=first.origin, variable=variable)
    else:
        cause = ctx.t("cors.cause.missing", origin=first.origin, variable=variable)
    if any(r.live_ok is False and r.get.ok and r.get.value.status >= 500 for r in failing):
        steps.append(step("get_500"))
    steps += [step("redeploy"), step("verify", origin=first.origin)]
    return cause, steps, ["redeploy"]


PLAYBOOK = Playbook(
    name="cors",
    symptoms=("cors", "cors_rejected", "cors_mismatch", "origin_not_allowed", "frontend"),
    needs=("config", "railway", "http"),
    run=run,
    order=20,
)
