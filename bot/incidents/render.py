"""Incidents → Slack messages (the live summary, transitions, the final summary) and the postmortem draft.

The live summary follows incident-summaries.md §(a)/(e): header, freshness line, short facts as
fields, then impact, health, findings, actions (newest first), next steps, exit criteria, the last
deployment and its buttons. It stays far below Slack's limits (about 15 blocks; every text clipped to
its limit) in both languages; the timeline itself never goes in the card. The final summary and the
postmortem are whole templates (``bot/i18n/templates/<lang>/``) fed with prepared, redacted values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.i18n import catalogue, format_duration, plain_date, render_document, slack_escape, t
from bot.incidents.policy import WatchSettings, clean, durations, next_update_by
from bot.render.blocks import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_FIELD,
    MAX_HEADER,
    MAX_SECTION,
    actions,
    button,
    clip,
    confirm_dialog,
    context,
    header,
    section,
)
from bot.render.health import SERVICE_EMOJI, reason_text
from bot.slack.action_ids import ActionId
from bot.store.incidents import Incident
from bot.store.models import ActionRequest, Event

LIST_LIMIT = 5  # bullets per section in the live card; older ones stay in the timeline
STATUS_EMOJI = {"investigating": "🔴", "mitigated": "🟡", "resolved": "✅"}
FINDING_EMOJI = {"problem": "❌", "ok": "✅", "unknown": "❔"}
# Timeline kinds that are things done (by people or the bot), as opposed to observations.
ACTION_KINDS = frozenset({"declared", "playbooks", "change_requested", "change_approved", "change_rejected",
                          "change_withdrawn", "change_expired", "change_executed", "change_verified", "change_failed",
                          "mitigated", "relapsed", "resolution_proposed", "acknowledged", "commander", "severity",
                          "paged", "update_reminder", "checked", "resolved"})
IN_FLIGHT = frozenset({"pending", "approved", "running"})
# Event data that names a person: shown as a mention in Slack and as a display name in the postmortem.
_PEOPLE = ("requested_by", "approved_by", "user", "previous")
# Event fields older records (or some paths) leave out: the wording then simply omits them.
_OPTIONAL = {"reason": "", "note": "", "detail": "", "commit": "", "deployment": "", "previous": "",
             "escalation": False}
INCIDENT_REASONS = frozenset({"pressure", "deploy_crashed", "deploy_failed", "deploy_unverified", "manual", "alert"})
_REASON_VARS = ("deployment", "detail", "title", "metric", "percent", "threshold", "serving")
TRIGGER_WINDOW = timedelta(hours=2)


@dataclass(frozen=True)
class IncidentView:
    """Everything a renderer needs about one incident, read by the domain; no I/O happens here."""

    incident: Incident
    events: list[Event]
    now: datetime
    settings: WatchSettings
    changes: list[ActionRequest] = field(default_factory=list)  # linked to it (or in flight for its service)
    names: dict[str, str] = field(default_factory=dict)  # user id → display name (for the postmortem)
    channel_name: str | None = None
    playbooks_running: bool = False

    @property
    def lang(self) -> str:
        return self.incident.lang

    @property
    def change_in_flight(self) -> ActionRequest | None:
        return next((c for c in reversed(self.changes) if c.status in IN_FLIGHT), None)

    @property
    def rollback_useful(self) -> bool:
        """Offer a rollback only when it could help now: a target exists, no change is pending or running,
        and the service has not just been rolled back (it comes back if the service fails again)."""
        inc = self.incident
        if not inc.is_open or not (inc.rollback or {}).get("target") or inc.rollback_request_id == "pending":
            return False
        if self.change_in_flight is not None:
            return False
        rolled_back = any(c.action == "rollback" and c.status == "succeeded" and c.verdict == "healthy"
                          for c in self.changes)
        return not (rolled_back and inc.status == "mitigated")


# ---- small helpers -------------------------------------------------------------------------------------


def _duration(seconds: float | None, lang: str) -> str:
    return t("incident.na", lang) if seconds is None else format_duration(seconds, lang)


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


class _Facts:
    """A stored probe in the shape ``bot.render.health.reason_text`` reads."""

    def __init__(self, reason: str, args: dict, n: int) -> None:
        self.reason = reason
        self.reason_args = args
        self.endpoints = [None] * int(n or 0)


def reason_line(reason: str, args: dict, n: int, lang: str, *, slack: bool = True) -> str:
    """One sentence for a reason code: the incident's own (deploys, metrics) or a health reason."""
    if reason in INCIDENT_REASONS:
        values = dict.fromkeys(_REASON_VARS, "") | dict(args)
        if slack:  # ``detail`` comes from the catalogue (the verification's reason): already escaped
            values = {k: slack_escape(v) if isinstance(v, str) and k != "detail" else v for k, v in values.items()}
        return t(f"incident.reason.{reason}", lang, **values)
    try:
        return reason_text(_Facts(reason, dict(args), n), lang, slack=slack)  # type: ignore[arg-type]
    except Exception:  # a reason this version does not know, or arguments it does not expect
        return reason


def _who(actor: str | None, lang: str, names: dict[str, str] | None = None, *, slack: bool = True) -> str:
    if not actor:
        return t("incident.bot", lang)
    if names is not None and not slack:
        return names.get(actor, actor)
    return f"<@{actor}>" if slack and actor[:1] in ("U", "W") else actor


def event_text(event: Event, lang: str, *, slack: bool = True, names: dict[str, str] | None = None) -> str:
    """What happened, in words (user text escaped for Slack when ``slack``); the same words in the
    summary, the final summary and the postmortem (people as mentions, or by name in the postmortem)."""
    data = {**_OPTIONAL, **(event.data or {})}
    for key in _PEOPLE:
        if isinstance(data.get(key), str):
            data[key] = _who(data[key], lang, names, slack=slack) if data[key] else ""
    for key in ("verified_at",):
        if isinstance(data.get(key), str):
            data[key] = _parse(data[key])
    data.setdefault("slack", slack)
    if event.kind in ("severity",):
        data = data | {k: t(f"incident.severity.{data.get(k, 'sev2')}", lang) for k in ("before", "after")}
    if event.kind == "probe" or (event.kind == "checked" and data.get("check") == "health"):
        data["verdict"] = t(f"health.verdict.{data.get('verdict', 'down')}", lang)
        data["reason"] = reason_line(data.get("reason", ""), data.get("args", {}), data.get("n", 0), lang,
                                     slack=slack)
    if event.kind in ("signal", "declared") and "reason" in data:
        data["what"] = reason_line(data["reason"], data.get("args", {}), data.get("n", 0), lang, slack=slack)
    if event.kind == "declared":
        data["source"] = t(f"incident.source.{data.get('source', 'manual')}", lang)
        data["severity"] = t(f"incident.severity.{data.get('severity', 'sev2')}", lang)
    if event.kind == "rollback_not_posted":
        data["why"] = t(f"post.why.{data.get('failure', 'refused')}", lang, error=data.get("error", ""))
    if event.kind == "post_failed":
        key = f"post.what.{data.get('what', '')}"
        data["what"] = t(key, lang) if key in catalogue(lang) else str(data.get("what", ""))
    for key in ("text", "title", "cause", "detail", "why", "error"):
        if isinstance(data.get(key), str):
            data[key] = slack_escape(clean(data[key], 500)) if slack else clean(data[key], 500)
    try:
        return t(f"incident.event.{event.kind}", lang, **data)
    except Exception:
        return event.kind


def _moments(inc: Incident) -> dict[str, datetime | None]:
    return {"impact_started": inc.impact_started_at, "detected": inc.detected_at, "declared": inc.declared_at,
            "acknowledged": inc.acknowledged_at, "mitigated": inc.mitigated_at,
            "impact_ended": inc.impact_ended_at, "resolved": inc.resolved_at}


def _header(inc: Incident, lang: str) -> str:
    return clip(t("incident.summary.header", lang, emoji=STATUS_EMOJI.get(inc.status, "🔄"), ref=inc.ref,
                   severity=t(f"incident.severity.{inc.severity}", lang), service=inc.service,
                   title=clean(inc.title, 200)), MAX_HEADER)


def _impact(inc: Incident, lang: str, *, slack: bool = True) -> str:
    facts = inc.impact or {}
    return reason_line(facts.get("reason", "manual"), facts.get("args", {}) | {"title": clean(inc.title, 200)},
                       facts.get("n", 0), lang, slack=slack)


# ---- the live summary ----------------------------------------------------------------------------------


def summary_message(view: IncidentView) -> tuple[str, list[dict]]:
    inc, lang = view.incident, view.lang
    last = max(view.events, key=lambda e: (e.at, e.id), default=None)
    updated = inc.updated_at
    status = t(f"incident.status.{inc.status}", lang)
    severity = t(f"incident.severity.{inc.severity}", lang)
    commander = f"<@{inc.commander}>" if inc.commander else t("incident.unassigned", lang)
    end = inc.resolved_at or view.now
    facts = [t("incident.summary.updated", lang, updated=updated, by=_who(last.actor if last else None, lang))]
    if inc.is_open:
        facts.append(t("incident.summary.next_update", lang, next_update=next_update_by(inc.severity, updated)))
    facts.append(t("incident.summary.commander", lang, commander=commander))
    fields = [
        t("incident.summary.f_status", lang, status=f"{STATUS_EMOJI.get(inc.status, '🔄')} {status}"),
        t("incident.summary.f_severity", lang, severity=severity),
        t("incident.summary.f_started", lang, at=inc.impact_started_at),
        t("incident.summary.f_declared", lang, at=inc.declared_at),
        t("incident.summary.f_duration", lang, took=format_duration((end - inc.impact_started_at).total_seconds(),
                                                                         lang)),
        t("incident.summary.f_service", lang, service=slack_escape(inc.service)),
        t("incident.summary.f_detection", lang, source=t(f"incident.source.{inc.source}", lang)),
    ]
    blocks: list[dict] = [
        header(_header(inc, lang)),
        context(" · ".join(facts)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": clip(f, MAX_FIELD)} for f in fields[:10]]},
        section(t("incident.summary.impact", lang, impact=_impact(inc, lang), since=inc.impact_started_at),
                 "impact"),
        section(_health_text(inc, lang), "health"),
        section(_findings_text(view), "findings"),
        section(_actions_text(view), "actions"),
        section(_next_steps_text(view), "next"),
        section(_exit_text(view), "exit"),
        section(_deployment_text(view), "deployment"),
    ]
    buttons = _buttons(view)
    if buttons:
        blocks += [{"type": "divider"}, actions(buttons, f"incident-{inc.id}")]
    blocks.append(context(t("incident.summary.footer", lang, n=len(view.events), ref=inc.ref)))
    text = clip(t("incident.summary.fallback", lang, ref=inc.ref, status=status, severity=severity,
                  service=inc.service, title=slack_escape(clean(inc.title, 200))), MAX_FALLBACK)
    return text, blocks[:MAX_BLOCKS]


def _health_text(inc: Incident, lang: str) -> str:
    health = inc.health or {}
    if not health:
        return t("incident.summary.health_unknown", lang)
    verdict = health.get("verdict", "down")
    return t("incident.summary.health", lang, emoji=SERVICE_EMOJI.get(verdict, ""),
             verdict=t(f"health.verdict.{verdict}", lang),
             reason=reason_line(health.get("reason", ""), health.get("args", {}), health.get("n", 0), lang),
             since=_parse(health.get("since")), checked=_parse(health.get("checked_at")))


def _verdict_label(verdict: str | None, lang: str) -> str:
    return t(f"incident.verdict.{verdict if verdict in FINDING_EMOJI else 'unknown'}", lang)


def _finding_lines(findings: list[dict], lang: str, *, slack: bool = True) -> list[str]:
    esc = slack_escape if slack else str
    lines = []
    for f in findings:
        head = t("incident.summary.finding", lang, emoji=FINDING_EMOJI.get(f.get("verdict"), "❔"),
                 playbook=esc(f.get("playbook", "?")), verdict=_verdict_label(f.get("verdict"), lang),
                 cause=esc(clean(f.get("cause", ""), 500)),
                 stale=esc(str(f.get("stale_after") or "")),
                 by=_who(f.get("by"), lang, slack=slack) if f.get("by") else "")
        fixes = [t("incident.summary.finding_fix", lang, fix=esc(clean(x, 300)))
                 for x in (f.get("remediation") or [])[:2]] if not f.get("stale_after") else []
        lines.append("\n".join([head, *fixes]))
    return lines


def _findings_text(view: IncidentView) -> str:
    inc, lang = view.incident, view.lang
    title = t("incident.summary.findings_title", lang)
    findings = [f for f in (inc.findings or []) if isinstance(f, dict)]
    if not findings:
        return title + "\n" + t("incident.summary.findings_pending" if view.playbooks_running
                                 else "incident.summary.findings_none", lang)
    ordered = sorted(findings, key=lambda f: (bool(f.get("stale_after")),
                                              {"problem": 0, "unknown": 1, "ok": 2}.get(f.get("verdict"), 3)))
    lines = _finding_lines(ordered[:LIST_LIMIT], lang)
    if len(ordered) > LIST_LIMIT:
        lines.append(t("incident.summary.more", lang, n=len(ordered) - LIST_LIMIT))
    return title + "\n" + "\n".join(clip(x, 600) for x in lines)


def _actions_text(view: IncidentView) -> str:
    lang = view.lang
    done = [e for e in view.events if e.kind in ACTION_KINDS]
    done.sort(key=lambda e: (e.at, e.id), reverse=True)
    lines = [t("incident.summary.action_line", lang, at=e.at, who=_who(e.actor, lang),
               what=clip(event_text(e, lang), 400)) for e in done[:LIST_LIMIT]]
    if len(done) > LIST_LIMIT:
        lines.append(t("incident.summary.more", lang, n=len(done) - LIST_LIMIT))
    return t("incident.summary.actions_title", lang) + "\n" + "\n".join(lines)


def _next_steps_text(view: IncidentView) -> str:
    inc, lang = view.incident, view.lang
    if not inc.is_open:
        return t("incident.summary.next_title", lang) + "\n" + t("incident.summary.next_closed", lang, ref=inc.ref)
    steps: list[str] = []
    req = view.change_in_flight
    if inc.acknowledged_at is None:
        steps.append(t("incident.summary.next_ack", lang))
    if req is not None and req.status == "pending":
        steps.append(t("incident.summary.next_approve", lang, request=req.id))
    elif view.rollback_useful:
        steps.append(t("incident.summary.next_rollback", lang, target=inc.rollback["target"].get("id", "")))
    for f in inc.findings or []:
        if isinstance(f, dict) and f.get("verdict") == "problem" and f.get("remediation") and not f.get("stale_after"):
            steps.append(slack_escape(clean(f["remediation"][0], 300)))
        if len(steps) >= 3:
            break
    if inc.resolve_proposed_at:
        steps.append(t("incident.summary.next_resolve_proposed", lang))
    steps.append(t("incident.summary.next_resolve", lang))
    return t("incident.summary.next_title", lang) + "\n" + "\n".join(f"• {clip(s, 500)}" for s in steps[:LIST_LIMIT])


def _exit_text(view: IncidentView) -> str:
    inc, lang = view.incident, view.lang
    return t("incident.summary.exit", lang, service=slack_escape(inc.service),
             window=format_duration(view.settings.recovery_seconds, lang), n=view.settings.successes_to_resolve,
             met=bool(inc.resolve_proposed_at or inc.resolved_at), watched=inc.probe_failed)


def _deployment_line(dep: dict, lang: str, *, slack: bool = True) -> str:
    esc = slack_escape if slack else str
    message = (dep.get("commit_message") or "").splitlines()[0][:80] if dep.get("commit_message") else ""
    created = _parse(dep.get("created_at"))
    return t("incident.deployment_line", lang, id=dep.get("id", ""), status=dep.get("status", ""),
             commit=(dep.get("commit_hash") or "")[:7], message=esc(clean(message, 80)),
             branch=esc(dep.get("branch") or ""), created=created, slack=slack)


def _deployment_text(view: IncidentView) -> str:
    inc, lang = view.incident, view.lang
    dep = inc.current_deployment or inc.deployment or {}
    lines = [t("incident.summary.deployment_title", lang)]
    if dep.get("unavailable"):
        lines.append(t(f"incident.summary.deployment_{dep['unavailable']}", lang))
    elif dep.get("id"):
        lines.append(_deployment_line(dep, lang))
        via = dep.get("via") or {}
        if via:
            lines.append(t("incident.summary.deployment_via", lang, action=via.get("action", ""),
                           target=via.get("target", ""), request=via.get("request", ""),
                           requested_by=_who(via.get("requested_by"), lang),
                           approved_by=_who(via.get("approved_by"), lang) if via.get("approved_by") else ""))
    else:
        lines.append(t("incident.summary.deployment_pending", lang))
    req = view.change_in_flight or (view.changes[-1] if view.changes else None)
    if req is not None:
        lines.append(t("incident.summary.change_request", lang, action=req.action, request=req.id,
                       status=t(f"rollback.status.{req.status}", lang), user=req.decided_by,
                       target=req.target_deployment.get("id", "")))
    if view.rollback_useful:
        lines.append(t("incident.summary.rollback_available", lang, target=inc.rollback["target"].get("id", "")))
    elif req is None and (inc.rollback or {}).get("none"):
        lines.append(t("incident.summary.rollback_none", lang, why=slack_escape(inc.rollback["none"])))
    return "\n".join(lines)


def _buttons(view: IncidentView) -> list[dict]:
    inc, lang = view.incident, view.lang
    if not inc.is_open:
        return []
    buttons = []
    if inc.acknowledged_at is None:
        buttons.append(ack_button(inc))
    if view.rollback_useful:
        buttons.append(button(t("incident.button.rollback", lang), ActionId.INCIDENT_ROLLBACK, str(inc.id),
                               style="danger"))
    if inc.resolve_proposed_at:
        buttons.append(resolve_button(inc))
    return buttons


def ack_button(inc: Incident) -> dict:
    """Acknowledge: someone has it (paging stops; the first to acknowledge leads unless one was named)."""
    return button(t("incident.button.ack", inc.lang), ActionId.INCIDENT_ACK, str(inc.id), style="primary")


def resolve_button(inc: Incident) -> dict:
    """Resolve, behind an "are you sure?" dialog: a person decides, whoever proposed it."""
    lang = inc.lang
    dialog = confirm_dialog(t("incident.button.confirm_title", lang),
                            t("incident.button.confirm_text", lang, ref=inc.ref),
                            t("incident.button.confirm_yes", lang), t("incident.button.confirm_no", lang))
    return button(t("incident.button.resolve", lang), ActionId.INCIDENT_RESOLVE, str(inc.id), style="primary",
                  confirm=dialog)


def resolution_proposal(inc: Incident, text: str, block_id: str) -> tuple[str, list[dict]]:
    """A proposal to resolve (the probes say healthy, or every alert resolved) with the Resolve button."""
    text = clip(text, MAX_FALLBACK)
    return text, [section(text), actions([resolve_button(inc)], block_id)]


# ---- short messages --------------------------------------------------------------------------------------


def announcement_text(inc: Incident, kind: str, *, channel: str | None = None) -> str:
    """One line for the incidents channel per transition (declared, mitigated, resolved)."""
    lang = inc.lang
    return clip(t(f"incident.announce.{kind}", lang, emoji=STATUS_EMOJI.get(inc.status, "🚨"), ref=inc.ref,
                   severity=t(f"incident.severity.{inc.severity}", lang), service=slack_escape(inc.service),
                   title=slack_escape(clean(inc.title, 200)), channel=channel, impact=_impact(inc, lang),
                   took=format_duration(((inc.resolved_at or inc.declared_at) - inc.impact_started_at)
                                            .total_seconds(), lang)), MAX_FALLBACK)


def proposal_message(inc: Incident, healthy_for: float) -> tuple[str, list[dict]]:
    text = t("incident.proposal", inc.lang, ref=inc.ref, service=slack_escape(inc.service),
             healthy_for=format_duration(healthy_for, inc.lang))
    return resolution_proposal(inc, text, f"incident-propose-{inc.id}")


def reminder_text(inc: Incident, now: datetime, due: datetime, people: list[str]) -> str:
    """The update was due and nobody posted one: ask the commander (or the responders) for it."""
    return clip(t("incident.reminder", inc.lang, ref=inc.ref, due=due, people=", ".join(people),
                  next_update=next_update_by(inc.severity, now)), MAX_FALLBACK)


def page_message(view: IncidentView, *, paged_by: str | None, channel: str | None) -> tuple[str, list[dict]]:
    """A direct message paging one person: why, where to go, the summary, and an Acknowledge button."""
    inc, lang = view.incident, view.lang
    text = clip(t("incident.page", lang, ref=inc.ref, severity=t(f"incident.severity.{inc.severity}", lang),
                  service=slack_escape(inc.service), title=slack_escape(clean(inc.title, 200)),
                  by=_who(paged_by, lang) if paged_by else "", channel=channel, since=inc.declared_at), MAX_FALLBACK)
    _, summary = summary_message(view)
    body = [b for b in summary if b.get("type") not in ("actions", "divider")]
    return text, [section(text), *body[: MAX_BLOCKS - 3], actions([ack_button(inc)], f"incident-page-{inc.id}")]


def deployment_announcement(service: str, dep: dict, lang: str, *, state: str, detail: str = "",
                            incident: Incident | None = None) -> tuple[str, list[dict]]:
    """The deploy watch's one message per deployment, edited as it progresses."""
    text = clip(t(f"incident.deploy.{state}", lang, service=slack_escape(service), id=dep.get("id", ""),
                   status=dep.get("status", ""), detail=clean(detail, 500),
                   ref=incident.ref if incident else "",
                   channel=incident.channel_id if incident and not incident.thread_ts else None), MAX_FALLBACK)
    return text, [section(text), context(_deployment_line(dep, lang))]


# ---- the final summary and the postmortem draft ---------------------------------------------------------


def _facts(view: IncidentView, *, slack: bool) -> dict[str, Any]:
    """The values both documents use, prepared once (redacted; Slack-escaped when ``slack``)."""
    inc, lang = view.incident, view.lang
    esc = slack_escape if slack else str
    d = durations(inc)
    events = sorted(view.events, key=lambda e: (e.at, e.id))

    def who(actor: str | None) -> str:
        return _who(actor, lang, view.names, slack=slack)

    def line(e: Event) -> dict[str, Any]:
        return {"at": e.at, "who": who(e.actor), "what": event_text(e, lang, slack=slack, names=view.names),
                "kind": e.kind}

    def said(e: Event) -> dict[str, Any]:  # a person's own words (a note, a follow-up), without the label
        return {"at": e.at, "who": who(e.actor), "what": esc(clean((e.data or {}).get("text", ""), 500))}

    dep = inc.deployment or {}
    trigger = None
    created = _parse(dep.get("created_at"))
    if dep.get("id") and created and timedelta(0) <= inc.impact_started_at - created <= TRIGGER_WINDOW:
        trigger = {"line": _deployment_line(dep, lang, slack=slack),
                   "before": (inc.impact_started_at - created).total_seconds()}
    raw_findings = [f for f in (inc.findings or []) if isinstance(f, dict)]
    findings = [{"verdict": _verdict_label(f.get("verdict"), lang), "playbook": esc(f.get("playbook", "?")),
                 "cause": esc(clean(f.get("cause", ""), 500)),
                 "remediation": [esc(clean(x, 300)) for x in (f.get("remediation") or [])[:3]]} for f in raw_findings]
    actors = {e.actor for e in events if e.actor} | {a for a in (inc.commander, inc.resolved_by) if a}
    involved = {dep.get("id")} | {(e.data or {}).get("deployment") for e in events if e.kind == "change_executed"} \
        | {(e.data or {}).get("id") for e in events if e.kind == "deployment"}
    cause = clean(inc.cause or "", 2000)
    mitigated = next((e for e in reversed(events) if e.kind == "mitigated"), None)  # the last one holds
    return {
        "ref": inc.ref, "title": esc(clean(inc.title, 200)), "service": esc(inc.service),
        "severity": t(f"incident.severity.{inc.severity}", lang), "status": t(f"incident.status.{inc.status}", lang),
        "source": t(f"incident.source.{inc.source}", lang), "impact": _impact(inc, lang, slack=slack),
        "moments": _moments(inc), "d": {k: _duration(v, lang) for k, v in vars(d).items()}, "raw": d,
        "cause": esc(cause), "commander": who(inc.commander) if inc.commander else t("incident.unassigned", lang),
        "responders": sorted(who(a) for a in actors), "channel": view.channel_name or inc.channel_id or "",
        "timeline": [line(e) for e in events],
        "actions": [line(e) for e in events if e.kind in ACTION_KINDS and e.kind != "declared"],
        "notes": [said(e) for e in events if e.kind == "note"],
        "followups": [said(e) for e in events if e.kind == "followup"],
        "findings": findings, "finding_lines": _finding_lines(raw_findings, lang, slack=slack),
        "problems": [f for f, raw in zip(findings, raw_findings, strict=True) if raw.get("verdict") == "problem"],
        "deployment": _deployment_line(dep, lang, slack=slack) if dep.get("id") else "",
        "deployments": sorted(str(d) for d in involved if d),
        "trigger": trigger, "detected_by": _detection(view, slack=slack),
        "announcements": [line(e) for e in events if e.kind in ("declared", "mitigated", "resolved")],
        "log_window": (inc.impact_started_at - timedelta(minutes=15),
                       (inc.impact_ended_at or inc.resolved_at or view.now) + timedelta(minutes=15)),
        "mitigation": event_text(mitigated, lang, slack=slack, names=view.names) if mitigated else "",
        "mitigated_by_change": bool(mitigated and (mitigated.data or {}).get("how") == "change"),
        "date": plain_date(inc.declared_at, lang)[:10], "slack": slack,
    }


def _detection(view: IncidentView, *, slack: bool) -> str:
    inc, lang = view.incident, view.lang
    return t(f"incident.detection.{inc.source}", lang, n=view.settings.failures_to_open,
             interval=format_duration(view.settings.interval_seconds, lang),
             detail=_impact(inc, lang, slack=slack), who=_who(inc.opened_by, lang, view.names, slack=slack))


def final_summary_message(view: IncidentView) -> tuple[str, list[dict]]:
    """Posted at resolution: durations with their formulas, actions, cause, findings, follow-ups."""
    body = render_document("incident_final.md.j2", view.lang, **_facts(view, slack=True))
    blocks = [section(chunk) for chunk in _chunks(body, MAX_SECTION - 10)][:MAX_BLOCKS]
    inc = view.incident
    text = clip(t("incident.final_fallback", view.lang, ref=inc.ref, service=inc.service,
                   took=_duration(durations(inc).impact, view.lang)), MAX_FALLBACK)
    return text, blocks


def postmortem_markdown(view: IncidentView) -> str:
    """The postmortem draft in Markdown, for the team's docs (no Slack escaping)."""
    return render_document("postmortem.md.j2", view.lang, **_facts(view, slack=False))


def postmortem_message(view: IncidentView, markdown: str) -> tuple[str, list[dict]]:
    """The draft as copyable code blocks (Slack shows Markdown source verbatim inside them)."""
    chunks = _chunks(slack_escape(markdown), MAX_SECTION - 20)
    intro = t("incident.postmortem_intro", view.lang, ref=view.incident.ref)
    blocks = [section(intro)] + [section(f"```{chunk}```") for chunk in chunks[: MAX_BLOCKS - 2]]
    if len(chunks) > MAX_BLOCKS - 2:
        blocks.append(section(t("incident.postmortem_cut", view.lang, n=len(chunks) - (MAX_BLOCKS - 2))))
    return clip(intro, MAX_FALLBACK), blocks


def _chunks(text: str, size: int) -> list[str]:
    """Split on line boundaries into pieces of at most ``size`` characters (long lines are cut)."""
    out: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > size:
            if current:
                out.append(current)
                current = ""
            out.append(line[:size])
            line = line[size:]
        if current and len(current) + 1 + len(line) > size:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current.strip():
        out.append(current)
    return out or [""]
