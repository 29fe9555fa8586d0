"""``chatops doctor``: check a real configuration, one line per check, with what to do when one fails."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.common.errors import ChatopsError
from bot.runtime import Runtime
from bot.slack.scopes import REQUIRED_SCOPES
from bot.store.schema import HEAD_REVISION, current_revision

_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")


@dataclass(frozen=True)
class CheckResult:
    """``key`` names the check (``doctor.check.<key>``); ``fix`` the advice (``doctor.fix.<fix>``)."""

    key: str
    ok: bool
    detail: dict = field(default_factory=dict)
    fix: str | None = None


async def check_signing(rt: Runtime, socket_mode: bool) -> list[CheckResult]:
    if not socket_mode:
        return [CheckResult("signing_secret", bool(rt.settings.SLACK_SIGNING_SECRET), fix="signing_secret")]
    token = rt.settings.SLACK_APP_TOKEN
    if not token:
        return [CheckResult("app_token", False, fix="app_token")]
    # Socket Mode opens its WebSocket with apps.connections.open, which takes only the app-level token
    # (a bot token gets not_allowed_token_type, a revoked one invalid_auth).
    client = AsyncWebClient(token=token, base_url=rt.settings.SLACK_API_URL, timeout=10)
    try:
        await client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        return [CheckResult("app_token_works", False, {"error": exc.response.get("error")}, fix="app_token_invalid")]
    except Exception as exc:
        return [CheckResult("app_token_works", False, {"error": type(exc).__name__}, fix="slack_unreachable")]
    return [CheckResult("app_token_works", True)]


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
        *await check_incidents_channel(rt, granted),
        *await check_approvers(rt),
    ]


async def check_incidents_channel(rt: Runtime, granted: set[str]) -> list[CheckResult]:
    """The ``[incidents] channel`` exists and the bot can post there: a member, or a public channel with
    chat:write.public; not archived. A private channel the bot is not in is channel_not_found to it."""
    channel = rt.config.incidents.channel
    if not channel:
        return []
    if not _CHANNEL_ID.fullmatch(channel):  # a name: conversations.info takes IDs only
        return [CheckResult("incidents_channel_unchecked", True, {"channel": channel})]
    try:
        info = (await rt.slack.conversations_info(channel=channel))["channel"]
    except SlackApiError as exc:
        return [CheckResult("incidents_channel", False, {"channel": channel, "error": exc.response.get("error")},
                            fix="incidents_channel")]
    except Exception as exc:
        return [CheckResult("incidents_channel", False, {"channel": channel, "error": type(exc).__name__},
                            fix="slack_unreachable")]
    public_ok = info.get("is_channel") and not info.get("is_private") and "chat:write.public" in granted
    if info.get("is_archived"):
        problem = "is_archived"
    elif not (info.get("is_member") or public_ok):
        problem = "not_in_channel"
    else:
        problem = None
    return [CheckResult("incidents_channel", problem is None, {"channel": channel, "error": problem or ""},
                        fix="incidents_channel")]


async def check_approvers(rt: Runtime) -> list[CheckResult]:
    """Each ``[approvals] approvers`` entry resolves: a user group with members, or a known user."""
    results = []
    for entry in rt.config.approvals.approvers:
        try:
            if entry.startswith("S"):
                members = (await rt.slack.usergroups_users_list(usergroup=entry)).get("users") or []
                error = "" if members else "no members"
            else:
                await rt.slack.users_info(user=entry)
                error = ""
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
        except Exception as exc:
            error = type(exc).__name__
        results.append(CheckResult("approver", not error, {"approver": entry, "error": error}, fix="approver"))
    return results


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
    current, head = await current_revision(rt.store), HEAD_REVISION
    return [CheckResult("database", True),
            CheckResult("migrations", current == head, {"current": current or "—", "head": head}, fix="migrations")]


async def run_checks(rt: Runtime, *, socket_mode: bool = False) -> list[CheckResult]:
    results = await check_signing(rt, socket_mode)
    results += await check_slack(rt)
    results += await check_railway(rt)
    results += await check_services(rt)
    results += await check_database(rt)
    return results
