"""Judge answers against a profile: one endpoint at a time, then the service as a whole.

Honest about what an answer proves: a rule in the profile (``/ready`` 503 with ``db:false``, a
``database: FAIL``, a ``503 loading``) names the reason and the playbook; a 404 on an endpoint the
profile expects is drift ("no longer served"), not an outage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.common.redact import MASK, is_secret_name, redact, redact_mapping
from bot.probe.classify import FAILURE_VERDICT, dig, is_missing, shape_problem, status_failure
from bot.probe.fetch import Fetched, FetchFailure
from bot.probe.models import Drift, EndpointResult
from bot.probe.profiles import Endpoint, Profile, Rule

_NOT_JSON = object()
# Failures that mean "the endpoint answers something else than the profile says": runbook drift.
_DRIFT_FAILURES = (None, "not_json", "shape_changed")
# Reasons decided in code (CORS origin checks), with their weight against profile rules.
_CODE_PRIORITY = {"cors_rejected": 58, "cors_mismatch": 55}
_MAX_TEXT = 200


def _eq(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return isinstance(value, bool) and isinstance(wanted, bool) and value == wanted
    if isinstance(value, str) and isinstance(wanted, str):
        return value.lower() == wanted.lower()
    if isinstance(value, int | float) and isinstance(wanted, int | float):
        return value == wanted
    return type(value) is type(wanted) and value == wanted


def _rule_value(rule: Rule, status: int, body: Any, headers: Any) -> Any:
    if rule.status and status not in rule.status:
        return _NOT_JSON
    if rule.field:
        return dig(body, rule.field) if isinstance(body, dict) else _NOT_JSON
    if rule.header:
        value = headers.get(rule.header)
        return _NOT_JSON if value is None else value
    return status


def _matches(rule: Rule, status: int, body: Any, headers: Any) -> Any:
    """The value the rule looked at when it matches, else the sentinel."""
    value = _rule_value(rule, status, body, headers)
    if value is _NOT_JSON or is_missing(value):
        return _NOT_JSON
    if rule.field or rule.header:
        if rule.equals is not None:
            wanted = rule.equals if isinstance(rule.equals, list) else [rule.equals]
            if not any(_eq(value, w) for w in wanted):
                return _NOT_JSON
        if rule.not_in is not None and any(_eq(value, w) for w in rule.not_in):
            return _NOT_JSON
    return value


def safe_text(text: str) -> str:
    """``text`` redacted, on one line. Each word is redacted again on its own: in ``"error: KEY=value"``
    a whole-text pass reads ``error`` as the name and never looks at ``KEY``."""
    return " ".join(redact(word) for word in redact(text).split())


def clean_value(name: str, value: Any) -> Any:
    """A value taken from a body, safe to show: secrets masked, text shortened."""
    if is_secret_name(name.rsplit(".", 1)[-1]):
        return MASK
    if isinstance(value, str):
        return safe_text(value)[:_MAX_TEXT]
    if isinstance(value, list):
        return [clean_value(name, v) for v in value[:20]]
    if isinstance(value, dict):
        return safe_text(json.dumps(redact_mapping(value), ensure_ascii=False))[:_MAX_TEXT]
    return value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"[{len(value)}]"
    return str(value)


def snippet(body: bytes) -> str:
    return safe_text(body[:4000].decode("utf-8", "replace"))[:80]


@dataclass(frozen=True)
class Judgement:
    verdict: str
    failure: str | None
    detail: str
    fields: dict[str, Any]
    reason: str | None = None
    diagnose: str | None = None


def _parse(body: bytes) -> Any:
    if not body:
        return _NOT_JSON
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _fields(spec: Endpoint, body: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(body, dict):
        return out
    for name, path in spec.fields.items():
        value = dig(body, path)
        if not is_missing(value):
            out[name] = clean_value(path, value)
    return out


def _summary(fields: dict[str, Any], limit: int = 3) -> str:
    parts = [f"{k}={_show(v)}" for k, v in fields.items() if not isinstance(v, list)][:limit]
    return " ".join(parts)[:120]


def judge(spec: Endpoint, profile: Profile, fetched: Fetched) -> Judgement:
    status, headers = fetched.status, fetched.headers
    body = _parse(fetched.body)
    fields = _fields(spec, body)
    prefix = "" if 200 <= status < 300 else f"HTTP {status} "
    best: tuple[Rule, Any] | None = None
    for rule in (*spec.rules, *profile.rules):
        value = _matches(rule, status, body, headers)
        if value is not _NOT_JSON and (best is None or rule.priority > best[0].priority):
            best = (rule, value)

    if status in spec.expect_status and spec.json_body and spec.method == "GET":
        if body is _NOT_JSON:
            return Judgement("unexpected", "not_json", f"{prefix}body not JSON: {snippet(fetched.body)!r}".strip(),
                             fields)
        problem = shape_problem(body, spec.shape)
        if problem:
            return Judgement("unexpected", "shape_changed", f"{prefix}{problem}".strip(), fields)
    if best is not None:
        rule, value = best
        subject = rule.field or rule.header
        fact = f"{subject}={clean_value(subject, _show(value))}" if subject else _summary(fields)
        if rule.header:
            extra = headers.get("X-Overload-Reason")
            fact += f" ({clean_value('reason', extra)})" if extra else ""
        return Judgement(rule.verdict, status_failure(status), f"{prefix}{fact}".strip(), fields,
                         rule.reason, rule.diagnose)
    if status in spec.expect_status:
        expected = "" if status == spec.expect_status[0] == 200 else f"HTTP {status} as expected "
        return Judgement("ok", None, f"{expected}{_summary(fields)}".strip(), fields)
    if status == 404:
        return Judgement("missing", "http_4xx", "HTTP 404", fields, diagnose=spec.diagnose)
    failure = status_failure(status)
    said = _summary(fields, 2) or (snippet(fetched.body) if body is _NOT_JSON and fetched.body else "")
    detail = f"HTTP {status} {said}".strip()
    if failure:
        return Judgement(FAILURE_VERDICT[failure], failure, detail, fields, diagnose=spec.diagnose)
    return Judgement("unexpected", None, f"{detail}, expected {'/'.join(map(str, spec.expect_status))}",
                     fields, diagnose=spec.diagnose)


def judge_origin(origin: str, fetched: Fetched) -> Judgement:
    """A GET sent with ``Origin``: the backend answers 500 (403 on preflights) when it rejects it, and a
    www/apex domain match gets an Access-Control-Allow-Origin that browsers refuse."""
    body = _parse(fetched.body)
    fields: dict[str, Any] = {}
    if isinstance(body, dict):
        for key in ("matchedRule", "matchedOrigin"):
            if key in body:
                fields[key] = clean_value(key, body[key])
    acao = fetched.headers.get("access-control-allow-origin")
    if acao is not None:
        fields["allowOrigin"] = clean_value("acao", acao)
    if fetched.status >= 400:
        return Judgement("degraded", status_failure(fetched.status), f"Origin {origin}: HTTP {fetched.status}",
                         fields, "cors_rejected", "cors")
    if not 200 <= fetched.status < 300:
        return Judgement("unexpected", None, f"Origin {origin}: HTTP {fetched.status}", fields)
    if acao is None:
        return Judgement("degraded", None, f"Origin {origin}: no Access-Control-Allow-Origin", fields,
                         "cors_rejected", "cors")
    if acao.rstrip("/").lower() != origin.rstrip("/").lower():
        return Judgement("degraded", None, f"Origin {origin}: Access-Control-Allow-Origin {fields['allowOrigin']}",
                         fields, "cors_mismatch", "cors")
    rule = fields.get("matchedRule")
    return Judgement("ok", None, f"Origin {origin}: allowed" + (f" ({rule})" if rule else ""), fields)


def failed(failure: FetchFailure, spec: Endpoint) -> Judgement:
    detail = failure.detail if failure.status is None else f"HTTP {failure.status} {failure.detail}"
    return Judgement(FAILURE_VERDICT.get(failure.failure, "down"), failure.failure, detail, {},
                     diagnose=spec.diagnose)


# ---- the service as a whole ---------------------------------------------------------------------


def judge_cors_promise(origin: str, fetched: Fetched) -> Judgement:
    """A GET with ``Origin`` to an endpoint the runbook says sends CORS headers: only whether it does."""
    if not 200 <= fetched.status < 300:
        return judge_origin(origin, fetched)
    acao = fetched.headers.get("access-control-allow-origin")
    if acao is None:
        return Judgement("ok", None, f"Origin {origin}: no CORS headers", {})
    return Judgement("ok", None, f"Origin {origin}: Access-Control-Allow-Origin {clean_value('acao', acao)}",
                     {"allowOrigin": clean_value("acao", acao)})


def _promise_drift(results: list[EndpointResult], profile: Profile) -> list[Drift]:
    """Endpoints that work but do not keep the runbook's promises (a value, CORS headers)."""
    out = []
    for r in results:
        spec = profile.endpoint(r.path)
        if spec is None or r.verdict != "ok":
            continue
        if r.origin is None:
            for name, promised in spec.promises.items():
                seen = r.fields.get(name)
                if seen is not None and not _eq(seen, promised):
                    out.append(Drift(r.path, "promise", r.status, f"{name}={_show(seen)}, runbook: {_show(promised)}",
                                     field=name, promised=promised, seen=seen))
        elif spec.promises_cors and "allowOrigin" not in r.fields:
            out.append(Drift(r.path, "promise", r.status, f"no CORS headers for Origin {r.origin}",
                             origin=r.origin))
    return out


def find_drift(results: list[EndpointResult], profile: Profile) -> list[Drift]:
    by_path = {r.path: r for r in results if r.origin is None}
    out = []
    for r in results:
        if r.origin is not None or not (r.verdict == "missing" or
                                        (r.verdict == "unexpected" and r.failure in _DRIFT_FAILURES)):
            continue
        spec = profile.endpoint(r.path)
        replacement = by_path.get(spec.replaced_by) if spec and spec.replaced_by else None
        out.append(Drift(r.path, r.verdict, r.status, r.detail,
                         replaced_by=spec.replaced_by if spec else None,
                         replacement_status=replacement.status if replacement else None,
                         replacement_ok=(replacement.verdict == "ok") if replacement else None))
    return out + _promise_drift(results, profile)


def _priority(profile: Profile, code: str) -> int:
    rules = [*profile.rules, *(r for e in profile.endpoints for r in e.rules)]
    return max((r.priority for r in rules if r.reason == code), default=_CODE_PRIORITY.get(code, 0))


def _args(r: EndpointResult, **extra: Any) -> dict[str, Any]:
    args = {"path": r.path, "detail": r.detail, "failure": r.failure, "verdict": r.verdict, "status": r.status}
    if r.origin:
        args["origin"] = r.origin
    return {**args, **extra}


def _observed(results: list[EndpointResult]) -> dict[str, Any]:
    """What the readiness endpoint answered, so a sentence about it can say what was seen."""
    ready = next((r for r in results if r.role == "readiness" and r.origin is None), None)
    return {"ready_path": ready.path, "ready_status": ready.status} if ready else {}


def summarise(results: list[EndpointResult], drift: list[Drift],
              profile: Profile) -> tuple[str, str, dict[str, Any], str | None]:
    """(service verdict, reason code, reason arguments, next step) for a set of endpoint results.

    Down when a liveness endpoint gets no answer or a server error, or when the deciding rule says
    down (the database does not answer); degraded when anything else fails (or drifts with no live
    replacement); healthy otherwise. Endpoints not requested (``skipped``) are neither.
    """
    for r in results:
        if r.role == "liveness" and r.verdict in ("down", "timeout"):
            return "down", "liveness_down", _args(r), None
    drifted = {d.path for d in drift}
    problems = [r for r in results if r.verdict in ("degraded", "down", "timeout")
                or (r.verdict == "unexpected" and r.path not in drifted)]
    if problems:
        with_reason = [r for r in problems if r.reason]
        if with_reason:
            best = max(with_reason, key=lambda r: _priority(profile, r.reason or ""))
            # A rule that says "down" (the database does not answer) makes the service down, not degraded.
            verdict = "down" if best.verdict == "down" else "degraded"
            return verdict, best.reason or "", _args(best, **_observed(results)), best.diagnose
        first = problems[0]
        return "degraded", "endpoint_failed", _args(first), first.diagnose
    broken = [d for d in drift if d.verdict != "promise" and not d.replacement_ok]
    if broken:
        return "degraded", "drift", {"n": len(drift), "path": broken[0].path, "detail": str(broken[0])}, None
    skipped = sum(1 for r in results if r.verdict == "skipped")
    if drift:
        return "healthy", "healthy_drift", {"n": len(drift), "path": drift[0].path, "skipped": skipped}, None
    return "healthy", "healthy", {"n": len(results) - skipped, "skipped": skipped}, None
