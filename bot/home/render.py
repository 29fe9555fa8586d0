"""The Home tab's Block Kit: one person's view of every service, incident and change waiting for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.i18n import t
from bot.render.blocks import actions, button, clip, confirm_dialog, context, header, section
from bot.slack.action_ids import ActionId
from bot.store.models import ActionRequest

MAX_SERVICES = 20
MAX_INCIDENTS = 10
MAX_APPROVALS = 10  # two blocks each
MAX_OWN = 5
DIVIDER = {"type": "divider"}
_EMOJI = {"healthy": ":large_green_circle:", "degraded": ":large_yellow_circle:", "down": ":red_circle:"}


@dataclass(frozen=True)
class ServiceState:
    name: str
    verdict: str | None  # healthy | degraded | down, None: never probed
    reason: str | None
    checked_at: datetime | None


@dataclass(frozen=True)
class IncidentLine:
    id: int
    service: str
    title: str
    severity: str
    status: str
    commander: str | None
    channel_id: str | None


@dataclass(frozen=True)
class DeploymentLine:
    service: str
    id: str
    status: str
    commit: str
    message: str
    created_at: datetime | None


@dataclass
class HomeData:
    services: list[ServiceState] = field(default_factory=list)
    incidents: list[IncidentLine] = field(default_factory=list)
    to_approve: list[ActionRequest] = field(default_factory=list)
    own: list[ActionRequest] = field(default_factory=list)
    deployments: list[DeploymentLine] = field(default_factory=list)
    deployments_error: str | None = None  # why the deployments could not be read (no token, Railway away)
    notice: str | None = None  # what became of this person's last click here


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else max(0.0, (now - at).total_seconds())


def home_view(data: HomeData, lang: str, now: datetime) -> dict:
    """A ``home`` view; each list is capped and says what it left out, so the view stays within Slack's
    100 blocks (91 at most: 2 + 1 notice + 23 services + 13 incidents + 23 approvals + 7 own + 22 deployments)."""""
    blocks: list[dict] = [header(t("home.title", lang)), context(t("home.updated", lang, at=now))]
    if data.notice:
        blocks.append(section(clip(data.notice, 3000), block_id="home-notice"))

    blocks += [DIVIDER, section(t("home.services.title", lang))]
    if not data.services:
        blocks.append(context(t("home.services.none", lang)))
    for state in data.services[:MAX_SERVICES]:
        verdict = t(f"health.verdict.{state.verdict}", lang) if state.verdict in _EMOJI else None
        blocks.append(section(t("home.services.line", lang, name=state.name, verdict=verdict,
                                emoji=_EMOJI.get(state.verdict or "", ":white_circle:"),
                                reason=state.reason or "", age=_age(state.checked_at, now))))
    _more(blocks, len(data.services) - MAX_SERVICES, lang)

    blocks += [DIVIDER, section(t("home.incidents.title", lang))]
    if not data.incidents:
        blocks.append(context(t("home.incidents.none", lang)))
    for inc in data.incidents[:MAX_INCIDENTS]:
        blocks.append(section(t("home.incidents.line", lang, id=inc.id, service=inc.service, title=inc.title,
                                severity=inc.severity, status=t(f"home.incident_status.{inc.status}", lang),
                                commander=inc.commander, channel=inc.channel_id)))
    _more(blocks, len(data.incidents) - MAX_INCIDENTS, lang)

    blocks += [DIVIDER, section(t("home.approvals.title", lang))]
    if not data.to_approve:
        blocks.append(context(t("home.approvals.none", lang)))
    for req in data.to_approve[:MAX_APPROVALS]:
        blocks += _approval(req, lang, now)
    _more(blocks, len(data.to_approve) - MAX_APPROVALS, lang)

    blocks += [DIVIDER, section(t("home.own.title", lang))]
    if not data.own:
        blocks.append(context(t("home.own.none", lang)))
    for req in data.own[:MAX_OWN]:
        blocks.append(context(t("home.own.line", lang, id=req.id, action=t(f"home.action.{req.action}", lang),
                                service=req.service, status=t(f"rollback.status.{req.status}", lang),
                                age=_age(req.created_at, now))))

    blocks += [DIVIDER, section(t("home.deployments.title", lang))]
    if data.deployments_error:
        blocks.append(context(clip(data.deployments_error, 2000)))
    elif not data.deployments:
        blocks.append(context(t("home.deployments.none", lang)))
    for dep in data.deployments[:MAX_SERVICES]:
        blocks.append(context(t("home.deployments.line", lang, service=dep.service, id=dep.id[:8], status=dep.status,
                                commit=dep.commit[:7], message=clip(dep.message, 80),
                                age=_age(dep.created_at, now))))
    return {"type": "home", "callback_id": "chatops-home", "blocks": blocks}


def _approval(req: ActionRequest, lang: str, now: datetime) -> list[dict]:
    target = (req.target_deployment or {}).get("id", "")
    dialog = confirm_dialog(t(f"rollback.confirm_title.{req.action}", lang),
                            t(f"rollback.confirm_text.{req.action}", lang, service=req.service, target=target),
                            t(f"rollback.confirm_yes.{req.action}", lang), t("rollback.confirm_no", lang),
                            style="danger")
    return [
        section(t("home.approvals.line", lang, action=t(f"home.action.{req.action}", lang), service=req.service,
                  user=req.requested_by, reason=req.reason, target=target[:8], channel=req.channel_id,
                  expires=_age_until(req.expires_at, now)), block_id=f"home-req-{req.id}"),
        actions([button(t(f"rollback.approve.{req.action}", lang), ActionId.HOME_APPROVE, req.id, style="primary",
                        confirm=dialog),
                 button(t("rollback.reject", lang), ActionId.HOME_REJECT, req.id, style="danger")],
                f"home-act-{req.id}"),
    ]


def _age_until(at: datetime, now: datetime) -> float:
    return max(0.0, (at - now).total_seconds())


def _more(blocks: list[dict], hidden: int, lang: str) -> None:
    if hidden > 0:
        blocks.append(context(t("home.more", lang, n=hidden)))
