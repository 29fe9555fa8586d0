"""``chatops doctor``: check a real configuration, one line per check, with what to do when one fails."""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError

from bot.common.errors import ChatopsError
from bot.runtime import Runtime
from bot.slack.scopes import REQUIRED_SCOPES
from bot.store.migrate import current_revision, head_revision


@dataclass(frozen=True)
class CheckResult:
    """``key`` names the check (``doctor.check.<key>``); ``fix`` the advice (``doctor.fix.<fix>``)."""

    key: str
    ok: bool
    detail: dict = field(default_factory=dict)
    fix: str | None = None


async def check_signing(rt: Runtime, socket_mode: bool) -> CheckResult:
    if socket_mode:
        return CheckResult("app_token", bool(rt.settings.SLACK_APP_TOKEN), fix="app_token")
    return CheckResult("signing_secret", bool(rt.settings.SLACK_SIGNING_SECRET), fix="signing_secret")


async def check_slack(rt: Runtime) -> list[CheckResult]:
    if not rt.settings.SLACK_BOT_TOKEN:
        return [CheckResult("slack_token", False, fix="slack_token_missing")]
    try:
        answer = await rt.slack.auth_test()
    except SlackApiError as exc:
        return [CheckResult("slack_token", False, {"error": exc.response.get("error")}, fix="slack_token_invalid")]
    except Exception as exc:
        return [CheckResult("slack_token", False, {"error": type(exc).__name__}, fix="slack_unreachable")]
    granted = {s.strip() for s in (answer.headers.get("x-oauth-scopes") or "").split(",") if s.strip()}
    missing = [s for s in REQUIRED_SCOPES if s not in granted]
    return [
        CheckResult("slack_token", True, {"team": answer.get("team"), "user": answer.get("user")}),
        CheckResult("slack_scopes", not missing, {"missing": ", ".join(missing)}, fix="slack_scopes"),
    ]


async def check_railway(rt: Runtime) -> list[CheckResult]:
    linked = [s for s in rt.config.services if s.railway is not None]
    if not linked:
        return []
    if rt.railway is None:
        return [CheckResult("railway_token", False, fix="railway_token")]
    results = []
    for service in linked:
        try:
            ids = await rt.railway.resolve(service.railway)
            deployments = await rt.railway.deployments(ids, limit=1)
        except ChatopsError as exc:
            results.append(CheckResult("railway_service", False, {"service": service.name, "error": str(exc)},
                                       fix="railway_service"))
            continue
        newest = deployments[0].status if deployments else "—"
        results.append(CheckResult("railway_service", True, {"service": service.name, "status": newest}))
    return results


async def check_services(rt: Runtime) -> list[CheckResult]:
    reports = await rt.prober.probe_all(rt.config.services)
    return [CheckResult("service_url", report.verdict != "down",
                        {"service": report.name, "verdict": report.verdict, "reason": report.reason_line},
                        fix="service_url") for report in reports]


async def check_database(rt: Runtime) -> list[CheckResult]:
    try:
        await rt.store.ping()
    except Exception as exc:
        return [CheckResult("database", False, {"error": type(exc).__name__}, fix="database")]
    current, head = await current_revision(rt.settings.DATABASE_URL), head_revision()
    return [CheckResult("database", True),
            CheckResult("migrations", current == head, {"current": current or "—", "head": head}, fix="migrations")]


async def run_checks(rt: Runtime, *, socket_mode: bool = False) -> list[CheckResult]:
    results = [await check_signing(rt, socket_mode)]
    results += await check_slack(rt)
    results += await check_railway(rt)
    results += await check_services(rt)
    results += await check_database(rt)
    return results
