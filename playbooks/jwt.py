"""JWT / encryption key errors (runbook: "JWT/Encryption Key Error").

``JWT_SECRET`` and ``ENCRYPTION_KEY`` are judged by length only (at least 32 characters; the
backend trims ``ENCRYPTION_KEY`` but not ``JWT_SECRET``, and copies ``JWT_SECRET`` into
``ENCRYPTION_KEY`` when the latter is short). Their values are never read into any message.

The logs of the active deployment tell what the running process saw at boot: a short key does not
stop startup (the runbook says "Servidor no inicia"); the server boots degraded with
``/health``, ``/api/health`` and ``/ready`` still 200, so only Railway's variables and logs show it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from playbooks import evidence as ev
from playbooks.base import Action, Evidence, Finding, Playbook, PlaybookContext
from playbooks.evidence import attempt

MIN_LENGTH = 32
LOG_FILTERS = ("ENCRYPTION_KEY", "JWT_SECRET", "ERROR CRÍTICO")
_FAILED = ("encryption_key_validation_failed", "encryption_key_invalid", "jwt_secret_short", "secrets_degraded")
_PASSED = ("encryption_key_ok", "encryption_key_from_jwt", "jwt_secret_ok")  # most telling first
_GENERATE = "node -e \"console.log(require('crypto').randomBytes(32).toString('hex'))\""


def lengths(variables: Mapping[str, str]) -> tuple[int | None, int | None]:
    """(JWT_SECRET length as the backend counts it, ENCRYPTION_KEY length trimmed); None when unset."""
    jwt = variables.get("JWT_SECRET")
    key = variables.get("ENCRYPTION_KEY")
    return (len(jwt) if jwt is not None else None, len(key.strip()) if key is not None else None)


def _length_seen(ctx: PlaybookContext, n: int | None) -> str:
    return ctx.t("jwt.seen.unset") if n is None else ctx.t("jwt.seen.length", n=n, min=MIN_LENGTH)


async def run(ctx: PlaybookContext) -> Finding:
    service = ctx.service.name
    found, logs = await asyncio.gather(attempt(lambda: ev.variables(ctx)),
                                       attempt(lambda: ev.log_scan(ctx, LOG_FILTERS)))
    evidence: list[Evidence] = []
    jwt_ok = key_ok = None
    fallback = False
    if found.ok:
        jwt_len, key_len = lengths(found.value)
        jwt_ok = jwt_len is not None and jwt_len >= MIN_LENGTH
        own_key = key_len is not None and key_len >= MIN_LENGTH
        fallback = not own_key and jwt_ok
        key_ok = own_key or fallback
        evidence.append(Evidence(ctx.t("jwt.check.jwt_secret", min=MIN_LENGTH), _length_seen(ctx, jwt_len), jwt_ok))
        key_seen = _length_seen(ctx, key_len)
        if fallback:
            key_seen = ctx.t("jwt.seen.fallback", seen=key_seen)
        evidence.append(Evidence(ctx.t("jwt.check.encryption_key", min=MIN_LENGTH), key_seen, key_ok))
    else:
        evidence.append(Evidence(ctx.t("jwt.check.variables"), found.error or "", None))

    logged_failure = logged_ok = False
    if logs.ok:
        scan, n = logs.value
        failed = scan.blocks_with(*_FAILED)
        check = ctx.t("jwt.check.logs")
        if failed:
            logged_failure = True
            sample = scan.sample(*_FAILED)
            evidence.append(Evidence(check, ctx.t("jwt.seen.logs_failed", n=failed,
                                                  line=sample.text if sample else ""), False))
        elif scan.blocks_with(*_PASSED):
            logged_ok = True
            sample = next((scan.last[name] for name in _PASSED if name in scan.last), None)
            evidence.append(Evidence(check, ctx.t("jwt.seen.logs_ok", line=sample.text if sample else ""), True))
        else:
            evidence.append(Evidence(check, ctx.t("jwt.seen.logs_none", n=n), None))
    else:
        evidence.append(Evidence(ctx.t("jwt.check.logs"), logs.error or "", None))

    railway_service = ctx.service.railway.service if ctx.service.railway and ctx.service.railway.service else service

    def step(key: str, **kw: object) -> str:
        return ctx.t(f"jwt.fix.{key}", service=railway_service, command=_GENERATE, min=MIN_LENGTH, **kw)

    secret_steps = [step("generate"), step("paste"), step("redeploy"), step("rotation")]
    if jwt_ok is False and key_ok is False:
        cause, steps = ctx.t("jwt.cause.both"), [*secret_steps, step("degraded")]
    elif jwt_ok is False:
        cause, steps = ctx.t("jwt.cause.jwt_secret"), [*secret_steps, step("degraded")]
    elif key_ok is False:
        cause, steps = ctx.t("jwt.cause.encryption_key"), [*secret_steps, step("degraded")]
    elif logged_failure and jwt_ok:
        cause, steps = ctx.t("jwt.cause.not_redeployed"), [step("redeploy"), step("check_logs")]
    elif logged_failure:
        cause, steps = ctx.t("jwt.cause.logged"), [*secret_steps, step("degraded")]
    elif jwt_ok or logged_ok:
        cause = ctx.t("jwt.cause.ok_fallback" if fallback else "jwt.cause.ok")
        steps = [step("separate_key")] if fallback else []
    else:
        cause, steps = ctx.t("jwt.cause.unknown"), [step("more_evidence")]

    if any(e.ok is False for e in evidence):
        verdict = "problem"
    elif jwt_ok or logged_ok:
        verdict = "ok"
    else:
        verdict = "unknown"
        cause, steps = ctx.t("jwt.cause.unknown"), [step("more_evidence")]
    actions = (Action("redeploy", service, "jwt", "diagnose.action.redeploy"),) if verdict == "problem" else ()
    return Finding("jwt", verdict, cause, tuple(evidence), tuple(steps), actions)


PLAYBOOK = Playbook(
    name="jwt",
    symptoms=("jwt", "encryption_key", "jwt_secret", "auth_failing", "degraded_secrets", "login_failing"),
    needs=("config", "railway"),
    run=run,
    order=30,
)
