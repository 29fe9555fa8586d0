"""Incidents in Slack: open one (its own channel, or a thread), keep its pinned summary current, and
close it with a final summary and a postmortem draft.

The monitor, the deploy watch and ``/incident`` call this module; it never imports them, nor the
playbooks: the composition root hands it a ``PlaybookRunner``. Every change goes to the incident's
timeline (the ``events`` table) and asks the ``SummaryPacer`` to re-render the summary, which
coalesces bursts into at most one ``chat.update`` per second per channel. Material transitions
(declared, mitigated, relapsed, resolved) also get one line in the ``[incidents] channel``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.changes.events import ChangeDecided, ChangeFinished, ChangeRequested
from bot.changes.runner import RollbackRefused, current_deployment, deployment_summary, pick_target
from bot.changes.slack_flow import RequestNotPosted, Tell
from bot.charts.spec import ChartSpec
from bot.common.errors import ChatopsError
from bot.i18n import catalogue, normalise_language, t
from bot.incidents.chart import health_timeline, window_start
from bot.incidents.policy import Signal, WatchSettings, clean, health_of
from bot.incidents.render import (
    IncidentView,
    announcement_text,
    final_summary_message,
    postmortem_markdown,
    postmortem_message,
    proposal_message,
    summary_message,
)
from bot.railway.errors import RailwayError
from bot.runtime import Runtime
from bot.slack import post as slack_messages
from bot.slack.pacing import SummaryPacer
from bot.slack.post import Elsewhere, Posted
from bot.store import actions
from bot.store import incidents as store
from bot.store.incidents import Change, Incident, Opened
from bot.store.models import utcnow
from bot.store.probes import endpoint_history

logger = logging.getLogger(__name__)

# (service name, symptom or playbook name, language) -> findings (``Finding`` objects or their JSON)
PlaybookRunner = Callable[[str, str | None, str], Awaitable[list[Any]]]
# Ask for an approval-gated change (``ChangeFlow.request``); handed over by the composition root.
RequestChange = Callable[..., Awaitable[actions.ActionRequest]]
# (chart, channel, thread_ts) -> shared file id or None; charts are additions, the text stands alone
ShareChart = Callable[[ChartSpec | None, str | None, str | None], Awaitable[str | None]]

MAX_CHANNEL_NAME = 80
_NAME_SUFFIXES = range(2, 10)
_SLUG = re.compile(r"[^a-z0-9_-]+")


# ---- channel names ----------------------------------------------------------------------------------------


def slug(text: str) -> str:
    """Lowercase ASCII letters, digits, ``-`` and ``_`` (accents dropped), as Slack channel names allow."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"-{2,}", "-", _SLUG.sub("-", ascii_text.lower())).strip("-_")


def channel_name(day: datetime, service: str, topic: str) -> str:
    """``inc-20261127-backend-ready-failing``: at most 80 characters."""
    name = "-".join(part for part in (f"inc-{day:%Y%m%d}", slug(service), slug(topic)) if part)
    return name[:MAX_CHANNEL_NAME].rstrip("-_")


def with_suffix(name: str, n: int) -> str:
    suffix = f"-{n}"
    return name[: MAX_CHANNEL_NAME - len(suffix)].rstrip("-_") + suffix


def auto_title(signal: Signal, service: str, lang: str) -> str:
    key = f"incident.title.{signal.reason}"
    if key not in catalogue(lang):
        key = "incident.title.default"
    return t(key, lang, service=service, verdict=t(f"health.verdict.{signal.verdict}", lang),
             **{k: v for k, v in signal.args.items() if k in ("metric", "percent", "threshold", "deployment")})


def normalise_finding(found: Any) -> dict:
    """A playbook ``Finding`` (or its JSON) as stored on the incident: short, redacted."""
    data = found.to_json() if hasattr(found, "to_json") else dict(found)
    return {"playbook": clean(data.get("playbook", "?"), 64), "verdict": data.get("verdict", "unknown"),
            "cause": clean(data.get("cause", ""), 500),
            "remediation": [clean(x, 300) for x in (data.get("remediation") or [])[:3]],
            "evidence": [{k: (clean(v, 200) if isinstance(v, str) else v) for k, v in e.items()}
                         for e in (data.get("evidence") or [])[:5] if isinstance(e, dict)]}


class Incidents:
    def __init__(self, rt: Runtime, settings: WatchSettings, *, playbook_runner: PlaybookRunner | None = None,
                 request_change: RequestChange | None = None, pacer: SummaryPacer | None = None,
                 share_chart: ShareChart | None = None) -> None:
        self.rt = rt
        self.settings = settings
        self.playbook_runner = playbook_runner
        self.request_change = request_change
        self.share_chart = share_chart
        self.pacer = pacer or SummaryPacer(rt.slack, min_interval=settings.summary_interval_seconds,
                                           spawn=rt.spawn)

    @property
    def channel(self) -> str | None:
        """The ``[incidents] channel``: every incident is announced there."""
        return self.rt.config.incidents.channel

    def language(self, origin_channel: str | None = None) -> str:
        return normalise_language(self.rt.language_for(self.channel or origin_channel))

    @property
    def bot_actor(self) -> str:
        """Who requests what the bot offers on its own (a rollback after a failed deploy)."""
        return self.rt.bot_user_id or "chatops"

    # ---- opening ------------------------------------------------------------------------------------------

    async def open(self, service: str, signal: Signal, *, source: str, title: str | None = None,
                   opened_by: str | None = None, origin_channel: str | None = None, lang: str | None = None,
                   deployment: dict | None = None) -> Opened:
        """Open an incident for ``service`` (or add ``signal`` to the one already open) and set it up in Slack.

        The slow evidence (deployments, playbooks, whether a rollback is possible) is gathered in the
        background and lands in the summary as it arrives. A rollback is offered as a button: the person
        who presses it is the requester and someone else approves (the two-person rule holds for
        changes the bot itself proposes too).
        """
        lang = lang or self.language(origin_channel)
        opened = await store.open_incident(
            self.rt.store, service=service, title=clean(title or auto_title(signal, service, lang), 200),
            severity=signal.severity, source=source, lang=lang, impact=signal.impact,
            impact_started_at=signal.started_at, detected_at=signal.detected_at, symptom=signal.symptom,
            opened_by=opened_by, health=signal.health, deployment=deployment, probe_failed=signal.failing,
            actor=opened_by, event_data={"reason": signal.reason, "args": signal.args, "n": signal.impact["n"]})
        incident = opened.incident
        if not opened.created:
            await store.add_event(self.rt.store, incident.id, "signal", actor=opened_by,
                                  data={"source": source, **signal.impact})
            if deployment:
                await self._deployment_event(incident.id, deployment)
            await self.refresh(incident.id)
            return opened
        logger.info("incident opened", extra={"incident": incident.id, "service": service, "source": source})
        if deployment:
            await self._deployment_event(incident.id, deployment)
        incident = await self._set_up_slack(incident, origin_channel, opened_by)
        self.rt.spawn(f"incident-{incident.id}-evidence", self._gather(incident.id))
        return Opened(incident, created=True)

    async def _set_up_slack(self, inc: Incident, origin_channel: str | None, opened_by: str | None) -> Incident:
        channel_id = await self._create_channel(inc)
        if channel_id:
            await self._invite(channel_id, opened_by)
            inc = await store.set_fields(self.rt.store, inc.id, channel_id=channel_id, touch=False)
            summary_ts = await self._post_summary(inc, channel_id)
            if self.channel:
                posted = await self.post_for(inc, "incident.announcement", self.channel,
                                             announcement_text(inc, "declared", channel=channel_id))
                inc = await store.set_fields(self.rt.store, inc.id, announce_channel=self.channel,
                                             announce_ts=posted.ts if posted.in_place else None, touch=False)
        else:  # a thread: in the incidents channel, else where it was asked for (or there, if the first refuses)
            where = self.channel or origin_channel
            posted = await self.post_for(inc, "incident.announcement", where, announcement_text(inc, "declared"),
                                         elsewhere=origin_channel) if where else None
            if not posted:
                logger.error("incident %s has no channel to live in: set [incidents] channel", inc.id)
                return inc
            where, root = posted.channel, posted.ts
            inc = await store.set_fields(self.rt.store, inc.id, channel_id=where, thread_ts=root,
                                         announce_channel=where, announce_ts=root, touch=False)
            summary_ts = await self._post_summary(inc, where, thread_ts=root)
        if summary_ts is None:
            return inc
        inc = await store.set_fields(self.rt.store, inc.id, summary_ts=summary_ts, touch=False)
        await self._pin(inc.channel_id, summary_ts)
        return inc

    async def _create_channel(self, inc: Incident) -> str | None:
        """A new public channel for the incident, or None when the bot may not create one (use a thread)."""
        topic = inc.title if inc.source == "manual" else (inc.impact or {}).get("reason", "").replace("_", "-")
        base = channel_name(inc.declared_at, inc.service, topic)
        for name in (base, *(with_suffix(base, n) for n in _NAME_SUFFIXES)):
            try:
                answer = await self.rt.slack.conversations_create(name=name)
                return answer["channel"]["id"]
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error == "name_taken":
                    continue
                logger.warning("cannot create an incident channel (%s): the incident lives in a thread", error)
                return None
            except Exception as exc:
                logger.warning("cannot create an incident channel (%s): the incident lives in a thread", exc)
                return None
        return None

    async def _invite(self, channel_id: str, opened_by: str | None) -> None:
        users = await self.responders(opened_by)
        if not users:
            return
        try:
            await self.rt.slack.conversations_invite(channel=channel_id, users=",".join(users))
            return
        except SlackApiError as exc:
            if exc.response.get("error") == "already_in_channel":
                return
        except Exception as exc:
            logger.warning("could not invite responders: %s", exc)
            return
        for user in users:  # one bad id fails the whole call: invite the others one by one
            try:
                await self.rt.slack.conversations_invite(channel=channel_id, users=user)
            except Exception as exc:
                logger.warning("could not invite %s: %s", user, exc)

    async def responders(self, opened_by: str | None = None) -> list[str]:
        """The configured responders (user groups expanded) and whoever opened the incident."""
        found: list[str] = []
        for ref in [*self.rt.config.incidents.responders, *([opened_by] if opened_by else [])]:
            if ref.startswith("S"):
                try:
                    found += (await self.rt.slack.usergroups_users_list(usergroup=ref)).get("users", [])
                except Exception as exc:
                    logger.warning("could not read user group %s: %s", ref, exc)
            else:
                found.append(ref)
        return [u for u in dict.fromkeys(found) if u and u != self.rt.bot_user_id]

    async def _post_summary(self, inc: Incident, channel: str, thread_ts: str | None = None) -> str | None:
        """The summary's ts when it is in the incident's place (to pin and keep current), else None."""
        text, blocks = summary_message(await self.view(inc.id))
        posted = await self.post_for(inc, "incident.summary", channel, text, blocks, thread_ts=thread_ts)
        return posted.ts if posted.in_place else None

    # ---- posting about an incident ---------------------------------------------------------------------------

    async def post_for(self, inc: Incident, what: str, channel: str, text: str, blocks: list[dict] | None = None,
                       *, thread_ts: str | None = None, elsewhere: str | None = None, move: bool = True) -> Posted:
        """Post about ``inc`` (``what`` names the message: ``incident.summary``…). When Slack refuses it
        there, it goes to the other place (``elsewhere``, by default the incidents channel for the
        incident's own channel and the other way round) with a note, unless not ``move``; whatever did
        not land cleanly where it was asked goes on the incident's timeline, besides the audit log and
        the metrics."""
        elsewhere = (elsewhere or self.other_place(inc, channel)) if move else None
        posted = await slack_messages.deliver(self.rt, channel, text, blocks, thread_ts, what=what, subject=inc.ref,
                                              elsewhere=elsewhere)
        if posted.error:
            await self._post_failed(inc.id, what, channel, posted)
        return posted

    def other_place(self, inc: Incident, channel: str | None) -> str | None:
        """Where a post about ``inc`` goes when ``channel`` refuses it: the incidents channel for the
        incident's own channel, the incident's own channel for the incidents channel (a thread: none)."""
        own = inc.channel_id if inc.channel_id and not inc.thread_ts else None
        if own and channel == own:
            return self.channel
        if self.channel and channel == self.channel:
            return own
        return None

    async def _post_failed(self, incident_id: int, what: str, channel: str | None, outcome: Posted, *,
                           edit: bool = False) -> None:
        """On the timeline: which message, where, Slack's answer, and where it went instead (if anywhere)."""
        await store.add_event(self.rt.store, incident_id, "post_failed",
                              data={"what": what, "channel": channel or "", "error": outcome.error or "",
                                    "fallback": outcome.fallback or "", "edit": edit,
                                    "where": (outcome.channel or "") if outcome.fallback == "moved" else ""})

    async def _summary_failed(self, incident_id: int, failed: Posted, text: str,
                              blocks: list[dict]) -> Elsewhere | None:
        """The pinned summary cannot be edited (told once per error by the pacer): a copy in the incidents
        channel, kept current by the pacer, and a line on the timeline."""
        inc = await store.get(self.rt.store, incident_id)
        if inc is None:
            return None
        copy = await slack_messages.fail_over(self.rt, failed, text, blocks, what="incident.summary",
                                              subject=inc.ref, elsewhere=self.other_place(inc, failed.channel))
        outcome = failed if copy is None else Posted(copy.channel, copy.ts, failed.error, "moved")
        await self._post_failed(incident_id, "incident.summary", failed.channel, outcome, edit=True)
        return copy

    async def _pin(self, channel: str | None, ts: str) -> None:
        try:
            await self.rt.slack.pins_add(channel=channel, timestamp=ts)
        except Exception as exc:
            logger.warning("could not pin the incident summary: %s", exc)

    # ---- evidence -------------------------------------------------------------------------------------------

    async def _gather(self, incident_id: int) -> None:
        await self._read_deployments(incident_id)
        await self.refresh(incident_id)
        await self._run_playbooks(incident_id)
        await self.refresh(incident_id)

    async def _read_deployments(self, incident_id: int) -> None:
        """The last deployment and whether an earlier one can be rolled back to."""
        inc = await store.get(self.rt.store, incident_id)
        service = self.rt.config.service(inc.service)
        if service is None or service.railway is None or self.rt.railway is None:
            await store.set_fields(self.rt.store, incident_id, deployment=inc.deployment or {"unavailable": "none"},
                                   touch=False)
            return
        try:
            deployments = await self.rt.railway.deployments(await self.rt.railway.resolve(service.railway), limit=20)
        except RailwayError as exc:
            await store.set_fields(self.rt.store, incident_id, deployment=inc.deployment or {"unavailable": "error"},
                                   touch=False)
            await store.add_event(self.rt.store, incident_id, "railway_error", data={"error": str(exc)[:200]})
            return
        try:
            if (inc.impact or {}).get("args", {}).get("serving"):  # a failed build; the old deployment serves
                raise RollbackRefused("incident.rollback_serving")
            rollback = {"target": deployment_summary(pick_target(deployments, current_deployment(deployments)))}
        except RollbackRefused as exc:
            rollback = {"none": t(exc.key, inc.lang, **exc.variables)}
        latest = deployment_summary(deployments[0]) if deployments else {}
        await store.set_fields(self.rt.store, incident_id, deployment=inc.deployment or latest, rollback=rollback,
                               touch=False)

    async def _run_playbooks(self, incident_id: int) -> None:
        if self.playbook_runner is None:
            return
        inc = await store.get(self.rt.store, incident_id)
        try:
            found = await self.playbook_runner(inc.service, inc.symptom, inc.lang)
        except Exception as exc:
            logger.exception("playbooks failed for incident %s", incident_id)
            await store.add_event(self.rt.store, incident_id, "playbooks_failed",
                                  data={"error": clean(f"{type(exc).__name__}: {exc}", 200)})
            return
        findings = [normalise_finding(f) for f in found]
        await store.set_fields(self.rt.store, incident_id, findings=findings)
        await store.add_event(self.rt.store, incident_id, "playbooks",
                              data={"names": ", ".join(f["playbook"] for f in findings) or "—",
                                    "problems": sum(f["verdict"] == "problem" for f in findings)})

    async def _deployment_event(self, incident_id: int, dep: dict, verified: str | None = None) -> None:
        await store.add_event(self.rt.store, incident_id, "deployment",
                              data={"id": dep.get("id"), "status": dep.get("status"),
                                    "commit": (dep.get("commit_hash") or "")[:7], "verified": verified or ""})

    async def note_deployment(self, service: str, dep: dict, verified: str | None = None) -> Incident | None:
        """A deployment of a service with an open incident goes on its timeline (a fix, or a new break)."""
        inc = await store.open_for_service(self.rt.store, service)
        if inc is not None:
            await self._deployment_event(inc.id, dep, verified)
            await self.refresh(inc.id)
        return inc

    # ---- actions --------------------------------------------------------------------------------------------

    async def offer_rollback(self, incident_id: int, user: str, *, reason: str = "", tell: Tell | None = None) -> str:
        """Post an approval-gated rollback request in the incident (one at a time per incident).

        ``tell`` reaches the person who asked (where the request went, when not in the incident). A request
        that cannot be posted at all is cancelled: the incident's timeline says so, the button stays for
        another try, and RequestNotPosted goes up for the caller to tell that person why."""
        inc = await self._with_channel(incident_id)
        if inc is None or not inc.is_open:
            return "closed"
        if self.request_change is None:
            return "unavailable"
        previous = inc.rollback_request_id
        if previous == "pending":
            return "already"
        if previous is not None:
            earlier = await actions.get(self.rt.store, previous)
            if earlier is not None and earlier.status not in actions.FINAL:
                return "already"
        if not await store.claim_rollback(self.rt.store, incident_id, previous):
            return "already"
        try:
            req = await self.request_change(inc.service, user=user, channel=inc.channel_id, lang=inc.lang,
                                            reason=clean(reason, 200), source="incident", incident_id=str(inc.id),
                                            thread_ts=inc.thread_ts, tell=tell)
        except RequestNotPosted as exc:  # cancelled, nothing pending: a later click may work
            await store.set_fields(self.rt.store, incident_id, rollback_request_id=previous, touch=False)
            await store.add_event(self.rt.store, incident_id, "rollback_not_posted", actor=user,
                                  data={"user": user, "failure": exc.failure,
                                        "error": clean(str(exc.variables.get("error", "")), 100)})
            await self.refresh(incident_id)
            raise
        except RollbackRefused as exc:
            if exc.key == "rollback.refused.pending":  # someone asked with /rollback meanwhile
                await store.set_fields(self.rt.store, incident_id, rollback_request_id=previous, touch=False)
                await self.refresh(incident_id)
                return "already"
            return await self._no_rollback(incident_id, t(exc.key, inc.lang, **exc.variables))
        except (ChatopsError, RailwayError) as exc:
            return await self._no_rollback(
                incident_id, exc.message(inc.lang) if isinstance(exc, ChatopsError) else str(exc))
        await store.set_fields(self.rt.store, incident_id, rollback_request_id=req.id,
                               rollback={"target": req.target_deployment}, touch=False)
        await self.refresh(incident_id)
        return "requested"

    async def _no_rollback(self, incident_id: int, why: str) -> str:
        await store.set_fields(self.rt.store, incident_id, rollback={"none": clean(why, 300)}, rollback_request_id=None)
        await store.add_event(self.rt.store, incident_id, "rollback_unavailable", data={"why": clean(why, 300)})
        await self.refresh(incident_id)
        return "refused"

    async def _with_channel(self, incident_id: int, wait: float = 10.0) -> Incident | None:
        """The incident once it has a place in Slack (another task may still be creating its channel)."""
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            inc = await store.get(self.rt.store, incident_id)
            if inc is None or inc.channel_id or asyncio.get_running_loop().time() > deadline:
                return inc
            await asyncio.sleep(0.2)

    # ---- changes to the service (the composition root subscribes these to the change flow) -----------------

    async def _incident_of(self, request: actions.ActionRequest) -> tuple[Incident | None, bool]:
        """The incident a change belongs to, and whether its "requested" line is this caller's to write:
        the one the request names (written when it is asked for), else the one open for its service,
        linked now by whichever listener comes first (a request made before the incident opened, or a
        decision racing the request's own event)."""
        if (request.incident_id or "").isdigit():
            return await store.get(self.rt.store, int(request.incident_id)), False
        inc = await store.open_for_service(self.rt.store, request.service)
        if inc is None:
            return None, False
        if await actions.link_incident(self.rt.store, request.id, str(inc.id)):
            return inc, True
        linked = await actions.get(self.rt.store, request.id)  # another listener (or replica) linked it first
        ref = linked.incident_id if linked else None
        return (await store.get(self.rt.store, int(ref)) if (ref or "").isdigit() else None), False

    async def _requested_event(self, incident_id: int, request: actions.ActionRequest) -> None:
        await self._change_event(incident_id, "change_requested", request, actor=request.requested_by,
                                 at=request.created_at, reason=clean(request.reason, 200))

    async def _change_event(self, incident_id: int, kind: str, request: actions.ActionRequest, *,
                            actor: str | None, at: datetime | None = None, **extra: Any) -> None:
        target = request.target_deployment or {}
        data = {"request": request.id, "action": request.action, "target": target.get("id", ""),
                "commit": (target.get("commit_hash") or "")[:7], **extra}
        await store.add_event(self.rt.store, incident_id, kind, actor=None if actor == self.bot_actor else actor,
                              data=data, at=at)

    async def on_change_requested(self, event: ChangeRequested) -> None:
        """A change to a service with an open incident joins it, however it was asked for."""
        request = event.request
        inc, linked_now = await self._incident_of(request)
        if inc is None:
            return
        if linked_now or request.source == "incident":  # offered by the incident: it came linked
            await self._requested_event(inc.id, request)
        await self.refresh(inc.id)

    async def on_change_decided(self, event: ChangeDecided) -> None:
        """Approved, rejected, withdrawn or expired: who decided and when, on the incident's timeline."""
        request = event.request
        inc, linked_now = await self._incident_of(request)
        if inc is None:
            return
        if linked_now:
            await self._requested_event(inc.id, request)
        await self._change_event(inc.id, f"change_{event.outcome}", request,
                                 actor=request.decided_by if event.outcome != "expired" else None,
                                 at=request.decided_at if event.outcome != "expired" else None,
                                 note=clean(request.decision_note or "", 200))
        await self.refresh(inc.id)

    async def on_change_finished(self, event: ChangeFinished) -> None:
        """Executed (Railway's deployment id) and verified, or failed: on the timeline; a change verified
        healthy mitigates the incident, becomes its current deployment and dates the findings before it."""
        request, progress = event.request, event.progress
        inc, linked_now = await self._incident_of(request)
        if inc is None:
            return
        if linked_now:
            await self._requested_event(inc.id, request)
        deployment = progress.deployment_id or request.new_deployment_id or ""
        if progress.stage != "done":
            await self._change_event(inc.id, "change_failed", request, actor=None, deployment=deployment,
                                     verdict=progress.status or "", detail=clean(progress.detail, 300))
            await self.refresh(inc.id)
            return
        await self._change_event(inc.id, "change_executed", request, actor=None, deployment=deployment,
                                 status=progress.status or "")
        verified_at = utcnow()
        await self._change_event(inc.id, "change_verified", request, actor=None, at=verified_at,
                                 deployment=deployment, healthy=bool(progress.healthy),
                                 detail=clean(progress.detail, 300))
        if progress.healthy:
            target = request.target_deployment or {}
            current = {**target, "id": deployment, "status": progress.status or "SUCCESS",
                       "created_at": verified_at.isoformat(),
                       "via": {"action": request.action, "request": request.id, "target": target.get("id", ""),
                               "requested_by": request.requested_by, "approved_by": request.decided_by or ""}}
            findings = [f | {"stale_after": deployment} if isinstance(f, dict) and "stale_after" not in f else f
                        for f in inc.findings or []]
            await store.set_fields(self.rt.store, inc.id, current_deployment=current, findings=findings)
            if inc.is_open:
                await self._read_deployments(inc.id)  # what could be rolled back to from here
                credit = {"how": "change", "action": request.action, "request": request.id,
                          "target": target.get("id", ""), "commit": (target.get("commit_hash") or "")[:7],
                          "deployment": deployment, "requested_by": request.requested_by,
                          "approved_by": request.decided_by or "", "verified_at": verified_at.isoformat()}
                if not await self.mitigated(inc.id, at=verified_at, impact_ended_at=verified_at,
                                            actor=request.decided_by, how="change", change=credit):
                    # the probes saw it recover between the change's end and this report
                    await store.credit_change(self.rt.store, inc.id, since=request.decided_at or verified_at,
                                              at=verified_at, actor=request.decided_by, data=credit)
        await self.refresh(inc.id)

    async def acknowledge(self, incident_id: int, user: str) -> bool:
        """The first person to act on an incident acknowledges it (paging stops); True for that one."""
        if (await store.acknowledge(self.rt.store, incident_id, user)).won:
            await self.refresh(incident_id)
            return True
        return False

    # ---- people's checks in the incident's channel (the composition root hands these to the handlers) ------

    async def _living_in(self, channel_id: str, service: str) -> Incident | None:
        """The open incident of ``service`` that lives in this channel (its own, or a thread of it)."""
        inc = await store.open_for_service(self.rt.store, service)
        return inc if inc is not None and inc.channel_id == channel_id else None

    async def on_diagnosed(self, channel_id: str, user: str, service: str, found: list[Any]) -> None:
        """``/diagnose`` run in an incident's channel: its findings join the evidence and the timeline."""
        inc = await self._living_in(channel_id, service)
        if inc is None:
            return
        fresh = [normalise_finding(f) | {"by": user} for f in found]
        names = {f["playbook"] for f in fresh}
        kept = [f for f in inc.findings or [] if isinstance(f, dict) and f.get("playbook") not in names]
        await store.set_fields(self.rt.store, inc.id, findings=fresh + kept, touch=False)
        await store.add_event(self.rt.store, inc.id, "checked", actor=user,
                              data={"check": "diagnose", "names": ", ".join(sorted(names)) or "—",
                                    "problems": sum(f["verdict"] == "problem" for f in fresh)})
        await self.refresh(inc.id)

    async def on_health_checked(self, channel_id: str, user: str, reports: list[Any]) -> None:
        """``/health`` (or Re-check) run in an incident's channel: the verdict goes on its timeline."""
        for report in reports:
            inc = await self._living_in(channel_id, report.name)
            if inc is None:
                continue
            await store.add_event(self.rt.store, inc.id, "checked", actor=user,
                                  data={"check": "health", "verdict": report.verdict, "reason": report.reason,
                                        "args": health_of(report)["args"], "n": len(report.endpoints)})
            await self.refresh(inc.id)

    async def add_note(self, incident_id: int, user: str, kind: str, text: str) -> None:
        """A note (hypothesis, finding) or a follow-up, by a person, on the timeline."""
        await store.add_event(self.rt.store, incident_id, kind, actor=user, data={"text": clean(text, 500)})
        await self.refresh(incident_id)

    # ---- what the monitor sees --------------------------------------------------------------------------------

    async def record_health(self, inc: Incident, health: dict, *, changed: bool, failing: bool) -> None:
        """The latest probe; the timeline and the summary hear of it only when the verdict or reason changes."""
        values: dict[str, Any] = {"health": health}
        if failing and not inc.probe_failed:
            values["probe_failed"] = True
        await store.set_fields(self.rt.store, inc.id, touch=changed, **values)
        if changed:
            await store.add_event(self.rt.store, inc.id, "probe",
                                  data={k: health.get(k) for k in ("verdict", "reason", "args", "n")})
            await self.refresh(inc.id)

    async def mitigated(self, incident_id: int, *, at: datetime, impact_ended_at: datetime, actor: str | None = None,
                        how: str = "monitor", change: dict | None = None) -> bool:
        """Mark the incident mitigated once. While an approved change to the service runs, its own
        verification decides (so the mitigation, and TTM, are the change's, not the next probe's)."""
        if how != "change":
            inc = await store.get(self.rt.store, incident_id)
            if inc is None or await actions.running_for(self.rt.store, inc.service):
                return False
        change = await store.mitigate(self.rt.store, incident_id, at=at, actor=actor, impact_ended_at=impact_ended_at,
                                      data={"how": how, "since": impact_ended_at.isoformat(), **(change or {})})
        if change.won:
            await self._announce(change.incident, "mitigated")
            await self.refresh(incident_id)
        return change.won

    async def relapsed(self, incident_id: int, health: dict) -> None:
        change = await store.relapse(self.rt.store, incident_id,
                                     data={k: health.get(k) for k in ("verdict", "reason", "args", "n")})
        if change.won:
            await self._announce(change.incident, "relapsed")
            await self.refresh(incident_id)

    async def propose_resolution(self, incident_id: int, healthy_for: float) -> None:
        change = await store.propose_resolution(self.rt.store, incident_id, data={"healthy_for": healthy_for})
        if not change.won:
            return
        inc = change.incident
        if inc.channel_id:
            text, blocks = proposal_message(inc, healthy_for)
            await self.post_for(inc, "incident.proposal", inc.channel_id, text, blocks, thread_ts=inc.thread_ts)
        await self.refresh(incident_id)

    # ---- resolving ----------------------------------------------------------------------------------------------

    async def resolve(self, incident_id: int, user: str | None, cause: str = "") -> Change:
        """Close the incident once: the summary shows it, then the final summary and the postmortem draft."""
        change = await store.resolve(self.rt.store, incident_id, user=user, cause=clean(cause, 2000))
        if not change.won:
            return change
        inc = change.incident
        logger.info("incident resolved", extra={"incident": inc.id, "service": inc.service})
        await self.refresh(inc.id)
        if inc.channel_id:
            view = await self.view(inc.id, with_names=True)
            text, blocks = final_summary_message(view)
            final = await self.post_for(inc, "incident.final_summary", inc.channel_id, text, blocks,
                                        thread_ts=inc.thread_ts)
            ts = final.ts if final.in_place else None
            text, blocks = postmortem_message(view, postmortem_markdown(view))
            await self.post_for(inc, "incident.postmortem", inc.channel_id, text, blocks,
                                thread_ts=inc.thread_ts or ts)
        await self._announce(inc, "resolved")
        if inc.channel_id and self.share_chart is not None:  # the picture last: every text is out already
            await self.share_chart(await self._health_chart(inc), inc.channel_id, inc.thread_ts or ts)
        return change

    async def _health_chart(self, inc: Incident) -> ChartSpec | None:
        results = await endpoint_history(self.rt.store, inc.service, window_start(inc))
        return health_timeline(inc, results, await store.timeline(self.rt.store, inc.id), inc.lang)

    async def _announce(self, inc: Incident, kind: str) -> None:
        """One line per transition in the incidents channel (or in the incident's thread without one)."""
        own_channel = inc.channel_id if inc.channel_id and not inc.thread_ts else None
        text = announcement_text(inc, kind, channel=own_channel)
        if self.channel:
            await self.post_for(inc, "incident.announcement", self.channel, text)
        elif inc.channel_id and inc.thread_ts:
            await self.post_for(inc, "incident.announcement", inc.channel_id, text, thread_ts=inc.thread_ts)

    # ---- the summary --------------------------------------------------------------------------------------------

    async def refresh(self, incident_id: int) -> None:
        """Ask for the pinned summary to show the incident as it is now (coalesced, paced)."""
        inc = await store.get(self.rt.store, incident_id)
        if inc is not None and inc.channel_id and inc.summary_ts:
            self.pacer.request(inc.channel_id, inc.summary_ts, lambda: self._render_summary(incident_id),
                               on_failure=lambda failed, text, blocks: self._summary_failed(incident_id, failed,
                                                                                            text, blocks))

    async def _render_summary(self, incident_id: int) -> tuple[str, list[dict]]:
        return summary_message(await self.view(incident_id))

    async def view(self, incident_id: int, *, with_names: bool = False) -> IncidentView:
        inc = await store.get(self.rt.store, incident_id)
        events = await store.timeline(self.rt.store, incident_id)
        changes = {r.id: r for r in await actions.for_incident(self.rt.store, str(inc.id))}
        if inc.is_open:  # asked for before the incident opened, still undecided or running: it counts too
            for request in await actions.in_flight_for(self.rt.store, inc.service):
                changes.setdefault(request.id, request)
        people = {e.actor for e in events} | {inc.commander, inc.resolved_by} | {
            (e.data or {}).get(k) for e in events for k in ("requested_by", "approved_by", "user")}
        names = await self._names(people) if with_names else {}
        channel_name = await self._channel_name(inc) if with_names else None
        running = self.playbook_runner is not None and not any(
            e.kind in ("playbooks", "playbooks_failed") for e in events)
        return IncidentView(inc, events, utcnow(), self.settings,
                            changes=sorted(changes.values(), key=lambda r: r.created_at), names=names,
                            channel_name=channel_name, playbooks_running=running)

    async def _names(self, user_ids: set[str | None]) -> dict[str, str]:
        """Display names for the postmortem (Slack ids mean nothing in a document)."""
        names: dict[str, str] = {}
        for uid in sorted(u for u in user_ids if u and u[:1] in ("U", "W")):
            try:
                user = (await self.rt.slack.users_info(user=uid))["user"]
                names[uid] = user.get("real_name") or user.get("name") or uid
            except Exception:
                names[uid] = uid
        return names

    async def _channel_name(self, inc: Incident) -> str | None:
        if not inc.channel_id or inc.thread_ts:
            return None
        try:
            return "#" + (await self.rt.slack.conversations_info(channel=inc.channel_id))["channel"]["name"]
        except Exception:
            return None

    # ---- finding the incident a command means ------------------------------------------------------------------

    async def get(self, incident_id: int) -> Incident | None:
        return await store.get(self.rt.store, incident_id)

    async def find(self, channel_id: str | None, number: int | None) -> tuple[Incident | None, list[Incident]]:
        """The incident a command is about: by number, else this channel's, else the only open one.

        Returns (incident, open incidents): no incident with several open means "ask which one".
        """
        if number is not None:
            return await store.get(self.rt.store, number), []
        if channel_id:
            own = await store.for_channel(self.rt.store, channel_id)
            if own is not None:
                return own, []
        still_open = await store.open_incidents(self.rt.store)
        return (still_open[0] if len(still_open) == 1 else None), still_open
