"""The rollback flow around the runner: request, decide, run, report in Slack, resume, expire.

Handlers (``/rollback``, the buttons) and incidents (the rollback offered on a failing deploy) call
these functions; none of them imports Bolt. ``Tell`` sends an ephemeral sentence to the person
who acted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from bot.changes.approvers import ApproverDirectory
from bot.changes.events import ChangeEvents
from bot.changes.holding import hold
from bot.changes.render import deployments_message, rollback_message
from bot.changes.runner import (
    MUTATIONS,
    ActionRunner,
    ChangeNotRecorded,
    Progress,
    RollbackRefused,
    check_explicit_target,
    current_deployment,
    deployment_summary,
    pick_target,
)
from bot.changes.verification import make_verifier
from bot.common.errors import ChatopsError
from bot.common.redact import redact
from bot.config.services import ServiceConfig
from bot.i18n import CatalogueError, t
from bot.railway.models import ServiceIds
from bot.runtime import Runtime
from bot.slack import post as slack_messages
from bot.store import StoreUnavailable, actions

Tell = Callable[[str], Awaitable[None]]  # an ephemeral sentence to the person who acted
logger = logging.getLogger(__name__)
NOT_RECORDED_RETRY_SECONDS = 1.0  # how often a change that could not be recorded tries to mark itself interrupted


class ChangeKind(Protocol):
    """A change other than a deployment change: how its request message looks, how it runs once approved,
    and how it carries on when the bot restarts while it runs. ``run`` and ``resume`` end the request
    with ``actions.finish``; ``report`` shows their progress in the request's message."""

    action: str  # the ActionRequest.action it handles: db_backup, db_cleanup, db_restore
    typed_confirmation: bool  # the approver must type the service's name (a restore)

    def message(self, req: actions.ActionRequest, lang: str, progress: Any) -> tuple[str, list[dict]]: ...

    async def run(self, req: actions.ActionRequest, report: Callable[[Any], Awaitable[None]]) -> None: ...

    async def resume(self, req: actions.ActionRequest, report: Callable[[Any], Awaitable[None]], *,
                     announce: bool = True) -> None:
        """Carry on from the last recorded step; ``announce`` tells the thread a restart cut the change off."""


class RollbackUnavailable(CatalogueError):
    """The change cannot be asked for here (unknown service, no Railway link or token)."""


class RequestNotPosted(RollbackRefused):
    """The request's message could not be posted where it was asked (nor in the ops channel): it was
    cancelled, and the sentence says why and what to do (``rollback.not_posted.<failure>``)."""

    def __init__(self, failure: str, **variables) -> None:
        super().__init__(f"rollback.not_posted.{failure}", **variables)
        self.failure = failure


class RollbackFlow:
    def __init__(self, rt: Runtime, holder: str) -> None:
        self.rt = rt
        self.holder = holder  # this process, in the leases of the changes it runs (bot.changes.holding)
        self.lease_seconds = rt.config.monitor.lease_seconds
        # Requested, decided, finished: the composition root subscribes the incidents here, so this
        # package never imports them.
        self.events = ChangeEvents()
        self.directory = ApproverDirectory(rt)
        self.kinds: dict[str, ChangeKind] = {}
        self.runner = (ActionRunner(rt.store, rt.railway, make_verifier(rt), audit=rt.audit.received,
                                      poll_interval=rt.settings.CHATOPS_FOLLOW_POLL_SECONDS,
                                      follow_timeout=rt.settings.CHATOPS_FOLLOW_TIMEOUT_SECONDS,
                                      holder=holder, lease_seconds=self.lease_seconds)
                       if rt.railway else None)

    def add_kind(self, kind: ChangeKind) -> None:
        """A change other than a deployment change (a database backup…) through the same approvals."""
        self.kinds[kind.action] = kind

    def service(self, name: str) -> ServiceConfig:
        """The configured, Railway-linked service called ``name``, or RollbackUnavailable."""
        service = self.rt.config.service(name)
        if service is None:
            raise RollbackUnavailable("common.unknown_service", name=name,
                                      known=", ".join(self.rt.config.service_names))
        if service.railway is None:
            raise RollbackUnavailable("rollback.no_railway", service=name)
        if self.rt.railway is None:
            raise RollbackUnavailable("rollback.no_token")
        return service

    async def _ids(self, service: ServiceConfig) -> ServiceIds:
        return await self.rt.railway.resolve(service.railway)

    async def request(self, service_name: str, *, user: str, channel: str, lang: str, reason: str = "",
                      deployment_id: str | None = None, source: str = "command", incident_id: str | None = None,
                      thread_ts: str | None = None, action: str = "rollback",
                      tell: Tell | None = None) -> actions.ActionRequest:
        """Read the deployments, choose the target, store the request and post it with its buttons.

        A rollback targets an earlier deployment; a redeploy or restart targets the current one. When
        the message cannot be posted where it was asked (a private channel or DM the bot is not in, an
        archived channel), it goes to the ``[incidents] channel`` instead and ``tell`` says so; when it
        cannot be posted at all, the request is cancelled and RequestNotPosted says why."""
        service = self.service(service_name)
        await self.refuse_if_pending(service.name, action)
        deployments = await self.rt.railway.deployments(await self._ids(service), limit=20)
        current = current_deployment(deployments)
        if action == "rollback":
            target = (check_explicit_target(deployments, current, deployment_id) if deployment_id
                      else pick_target(deployments, current))
        elif current is None:
            raise RollbackRefused("rollback.refused.no_current")
        else:
            target = current
        return await self._create_and_post(
            action=action, service=service.name, requested_by=user, reason=reason, channel=channel, lang=lang,
            tell=tell, source=source, incident_id=incident_id, thread_ts=thread_ts,
            current_deployment=deployment_summary(current), target_deployment=deployment_summary(target))

    async def request_change(self, action: str, service_name: str, *, user: str, channel: str, lang: str,
                             reason: str = "", params: dict | None = None,
                             tell: Tell | None = None) -> actions.ActionRequest:
        """Store and post a request for a registered change kind (``add_kind``): same rules as a rollback."""
        assert action in self.kinds, action
        service = self.service(service_name)
        await self.refuse_if_pending(service.name, action)
        return await self._create_and_post(action=action, service=service.name, requested_by=user, reason=reason,
                                           channel=channel, lang=lang, tell=tell, params=params or {})

    async def refuse_if_pending(self, service: str, action: str) -> None:
        pending = await actions.pending_for(self.rt.store, service, action)
        if pending is not None:
            raise RollbackRefused("rollback.refused.pending", request_id=pending.id, service=service,
                                  user=pending.requested_by)

    async def _create_and_post(self, *, action: str, service: str, requested_by: str, reason: str, channel: str,
                               lang: str, tell: Tell | None, thread_ts: str | None = None,
                               **fields) -> actions.ActionRequest:
        try:
            req = await actions.create(
                self.rt.store, action=action, service=service, requested_by=requested_by, reason=reason,
                ttl=timedelta(minutes=self.rt.config.approvals.ttl_minutes), channel_id=channel, lang=lang,
                **fields)
        except actions.AlreadyPending:  # another request won the race since the check above
            pending = await actions.pending_for(self.rt.store, service, action)
            raise RollbackRefused("rollback.refused.pending", request_id=pending.id if pending else "?",
                                  service=service, user=pending.requested_by if pending else "") from None
        text, blocks = self._message(req, lang)
        posted = await slack_messages.deliver(self.rt, channel, text, blocks, thread_ts=thread_ts,
                                              what="change.request", subject=req.id, retry=False)
        if not posted:
            return await self._post_elsewhere(req, posted, user=requested_by, lang=lang, tell=tell)  # raises if not
        if not await self._remember_message(req, posted.channel or channel, posted.ts):
            return req
        return await actions.get(self.rt.store, req.id)

    async def _remember_message(self, req: actions.ActionRequest, channel: str, ts: str,
                                event: tuple[str, dict] | None = None) -> bool:
        """Record where the request's message is (and ``event``), then tell the subscribers it was requested.

        The message is posted already and its buttons carry the request's id, so it stands even when the
        database does not take this record: it is then retried in the background until the database
        answers (the message can be edited with the request's progress from then on), and False is
        returned with ``req`` set to where it was posted."""
        try:
            await self._record_message(req, channel, ts, event)
        except StoreUnavailable:
            req.channel_id, req.message_ts = channel, ts
            self.rt.spawn(f"message-of-{req.id}", self._record_message_later(req, channel, ts, event))
            return False
        return True

    async def _record_message(self, req: actions.ActionRequest, channel: str, ts: str,
                              event: tuple[str, dict] | None) -> None:
        await actions.set_message(self.rt.store, req.id, channel, ts)
        if event is not None:
            await actions.log_event(self.rt.store, req.id, event[0], data=event[1])
        if self._announced(req):
            await self.events.requested(await actions.get(self.rt.store, req.id))

    async def _record_message_later(self, req: actions.ActionRequest, channel: str, ts: str,
                                    event: tuple[str, dict] | None) -> None:
        logger.warning("request %s: its message %s is posted but not recorded; retrying", req.id, ts)
        await asyncio.sleep(NOT_RECORDED_RETRY_SECONDS)
        await _once_the_database_answers(lambda: self._record_message(req, channel, ts, event))

    def _message(self, req: actions.ActionRequest, lang: str, progress: Any = None) -> tuple[str, list[dict]]:
        kind = self.kinds.get(req.action)
        return kind.message(req, lang, progress) if kind else rollback_message(req, lang, progress)

    def _announced(self, req: actions.ActionRequest | None) -> bool:
        """Deployment changes are told to the subscribers (an incident's timeline speaks of deployments);
        the registered kinds (database changes) are not."""
        return req is not None and req.action not in self.kinds

    async def _post_elsewhere(self, req: actions.ActionRequest, failed: slack_messages.Posted, *, user: str,
                              lang: str, tell: Tell | None) -> actions.ActionRequest:
        """Post the request in the ops channel (with who asked, from where); else cancel it and raise."""
        rt = self.rt
        failure = failed.failure or "refused"
        ops = rt.config.incidents.channel
        ulang = await rt.user_languages.language(user, lang)
        if ops and ops != failed.channel and failure in ("dm", "private", "not_in_channel", "archived"):
            text, blocks = self._message(req, lang)
            moved = await slack_messages.deliver(rt, ops, text, blocks, what="change.request", subject=req.id,
                                                 retry=False)
            if moved:
                recorded = await self._remember_message(
                    req, moved.channel, moved.ts,
                    event=("posted_elsewhere", {"asked_in": failed.channel, "error": failed.error}))
                await slack_messages.post(rt, moved.channel, t("rollback.asked_elsewhere", lang, user=user,
                                                               why=t(f"rollback.why.{failure}", lang)),
                                          thread_ts=moved.ts, what="change.note", subject=req.id)
                if tell is not None:
                    await tell(t("rollback.posted_elsewhere", ulang, why=t(f"rollback.why.{failure}", ulang),
                                 channel=moved.channel))
                return await actions.get(rt.store, req.id) if recorded else req
        await actions.cancel(rt.store, req.id, failed.error or failure)
        raise RequestNotPosted(failure, service=req.service, bot=rt.bot_user_id or "", error=failed.error or "",
                               ops=slack_messages.mention(ops))

    async def deployments_list(self, service_name: str, lang: str) -> tuple[str, list[dict]]:
        service = self.service(service_name)
        deployments = await self.rt.railway.deployments(await self._ids(service), limit=10)
        current = current_deployment(deployments)
        return deployments_message(service.name, deployments, current.id if current else None, lang)

    async def decide(self, request_id: str, user: str, lang: str, tell: Tell, *, reject: bool,
                     note: str = "", confirmed: bool = False) -> str:
        """Apply one click (or ``/rollback reject``); returns the audit outcome.

        A kind that needs a typed confirmation (a restore) is approved only with ``confirmed``: its
        modal's submission says the approver typed the service's name."""
        rt = self.rt
        req = await actions.get(rt.store, request_id)
        if req is None:
            await tell(t("rollback.unknown_request", lang, request_id=request_id))
            return "unknown"
        if req.status == actions.PENDING and req.expires_at <= actions.utcnow():
            await self._expire(req.id)
            await tell(t("rollback.expired_click", lang))
            return "expired"
        if req.status != actions.PENDING:
            await tell(t("rollback.not_pending", lang, status=t(f"rollback.status.{req.status}", lang),
                         user=req.decided_by))
            return "already_decided"
        rules = rt.config.approvals
        withdrawn = reject and user == req.requested_by
        kind = self.kinds.get(req.action)
        if not reject and kind is not None and kind.typed_confirmation and not confirmed:
            await tell(t("rollback.needs_confirmation", lang))
            return "refused_unconfirmed"
        if not reject and user == req.requested_by and not rules.allow_self_approval:
            await tell(t("rollback.self_approval", lang))
            return "refused_self"
        # Only approvers decide, either way (else anyone could veto the mitigation); the requester
        # may always withdraw their own request.
        if not withdrawn and not await self.directory.may_approve(rules, user):
            key = "rollback.not_approver_reject" if reject else "rollback.not_approver"
            await tell(t(key, lang, approvers=_mentions(rules.approvers)))
            return "refused_not_approver"
        decision = await (actions.reject(rt.store, req.id, user, note, withdrawn=withdrawn) if reject
                          else actions.approve(rt.store, req.id, user))
        if not decision.won:
            current = decision.request
            if current.status in (actions.EXPIRED, actions.PENDING):  # still pending and lost: it expired
                await tell(t("rollback.expired_click", lang))
                return "expired"
            await tell(t("rollback.not_pending", lang, status=t(f"rollback.status.{current.status}", lang),
                         user=current.decided_by))
            return "already_decided"
        await self.refresh(decision.request)
        outcome = ("withdrawn" if withdrawn else "rejected") if reject else "approved"
        if self._announced(decision.request):
            await self.events.decided(decision.request, outcome)
        if reject:
            if not note:
                await tell(t("rollback.rejected_ok", lang, request_id=req.id))
            return "withdrawn" if withdrawn else "rejected"
        return await self._start(decision.request)

    async def _start(self, req: actions.ActionRequest) -> str:
        """Run an approved request (once: ``actions.start`` lets one runner through)."""
        rt = self.rt
        if self.runner is None:
            await self._interrupt(req.id, t("rollback.no_token", req.lang))
            return "interrupted"
        kind = self.kinds.get(req.action)
        if kind is not None:
            rt.spawn(self._task_name(req), self._run_kind(kind, req))
            return "approved"
        ids = await self._ids(self.service(req.service))
        rt.spawn(self._task_name(req), self._run(req, ids))
        return "approved"

    def _task_name(self, req: actions.ActionRequest) -> str:
        return f"{req.action}-{req.id}" if req.action in self.kinds else f"rollback-{req.id}"

    def _running_here(self, req: actions.ActionRequest) -> bool:
        name = self._task_name(req)
        return any(task.get_name() == name and not task.done() for task in self.rt.tasks)

    async def _run(self, req: actions.ActionRequest, ids: ServiceIds) -> None:
        """Run the change; if the database did not answer before its mutation, say that it was not sent."""
        try:
            await self.runner.run(req.id, ids, self._reporter(req.id))
        except ChangeNotRecorded:
            detail = t("rollback.not_recorded", req.lang)
            await self._not_recorded(req, detail, t("rollback.interrupted", req.lang, detail=detail),
                                     f"railway.{MUTATIONS[req.action]}", req.target_deployment.get("id", ""))
        except actions.LeaseLost:
            _lease_lost(req)

    async def _not_recorded(self, req: actions.ActionRequest, detail: str, said: str, audit_name: str,
                            argument: str) -> None:
        """Say at once, in the request's thread (Slack needs no database), that the change was not sent; audit
        it (the row waits in the writer's backlog); mark the request interrupted as soon as the database
        answers, so it can never start later (a restart runs approved requests)."""
        if req.channel_id:
            await slack_messages.post(self.rt, req.channel_id, said, thread_ts=req.message_ts, what="change.note",
                                      subject=req.id)
        self.rt.audit.received(kind="system", name=audit_name, outcome="not_sent",
                               detail="the database did not answer before it was sent", subject=req.id,
                               arguments=argument)
        await _once_the_database_answers(lambda: self._interrupt(req.id, detail))

    async def _run_kind(self, kind: ChangeKind, req: actions.ActionRequest, *, resume: bool = False) -> None:
        """A registered kind's run (or its resume after a restart); an exception fails the request.

        When the bot's database stops answering: before the change starts, it never starts (as a deployment
        change); once it has started, its thread is told, and it carries on from its last recorded step when
        the database answers, as it would after a restart (what was sent is never sent again). When another
        replica took the change's lease over meanwhile (this one stalled past it), this one stops: that one
        carries it on and edits its message."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                held = await stack.enter_async_context(hold(self.rt.store, req.id, self.holder, self.lease_seconds))
                started = await actions.start(self.rt.store, req.id) if held and not resume else None
            except StoreUnavailable:
                if resume:
                    raise  # left running: carried on by the next look for unfinished changes
                await self._not_recorded(req, t("db.not_recorded", req.lang), t("db.not_started", req.lang),
                                         req.action, req.service)
                return
            if held is None or (not resume and not started.won):
                return
            await self._kind_steps(kind, started.request if started else held.request, resume)

    async def _kind_steps(self, kind: ChangeKind, req: actions.ActionRequest, resume: bool) -> None:
        report = self._kind_reporter(req.id)
        waited = False
        while True:
            try:
                if resume:
                    await kind.resume(req, report, announce=not waited)
                else:
                    await kind.run(req, report)
                break
            except StoreUnavailable:
                if not waited:
                    waited = True
                    await self._store_lost(req)
                resume = True
                await asyncio.sleep(NOT_RECORDED_RETRY_SECONDS)
            except actions.LeaseLost:
                _lease_lost(req)
                return
            except ChatopsError as exc:
                await actions.finish(self.rt.store, req.id, succeeded=False, verdict="error",
                                     detail=redact(exc.message(req.lang))[:300])
                break
            except Exception as exc:
                logger.exception("%s %s failed", req.action, req.id)
                await actions.finish(self.rt.store, req.id, succeeded=False, verdict="error",
                                     detail=redact(f"{type(exc).__name__}: {exc}")[:300])
                break
        await self.refresh(await actions.get(self.rt.store, req.id))

    async def _store_lost(self, req: actions.ActionRequest) -> None:
        """A running change whose next step could not be recorded: said in its thread (Slack needs no
        database) and audited (the row waits in the writer's backlog) while it waits for the database."""
        if req.channel_id:
            await slack_messages.post(self.rt, req.channel_id, t("db.store_lost", req.lang), thread_ts=req.message_ts,
                                      what="change.note", subject=req.id)
        self.rt.audit.received(kind="system", name=f"{req.action}.paused", outcome="store_unavailable",
                               detail="the bot's database stopped answering; carries on when it answers",
                               subject=req.id)

    def _kind_reporter(self, request_id: str):
        async def report(progress: Any) -> None:
            await self.refresh(await actions.get(self.rt.store, request_id), progress)
        return report

    def _reporter(self, request_id: str):
        async def report(progress: Progress) -> None:
            await self.refresh(await actions.get(self.rt.store, request_id), progress)
            if progress.stage in ("done", "failed"):
                await self._after(request_id, progress)
        return report

    async def _after(self, request_id: str, progress: Progress) -> None:
        """Tell the subscribers (an incident's timeline) that a change has finished."""
        await self.events.finished(await actions.get(self.rt.store, request_id), progress)

    async def _interrupt(self, request_id: str, detail: str) -> None:
        """Report a change that cannot run (or go on) as interrupted, in its message and to the subscribers."""
        interrupted = await actions.interrupt(self.rt.store, request_id, detail)
        if interrupted.request is not None:
            await self.refresh(interrupted.request)
        if interrupted.won and self._announced(interrupted.request):
            await self.events.finished(interrupted.request, Progress("failed", status="interrupted", detail=detail))

    async def _expire(self, request_id: str) -> None:
        decision = await actions.expire(self.rt.store, request_id)
        if decision.won:
            await self.refresh(decision.request)
            if self._announced(decision.request):
                await self.events.decided(decision.request, "expired")

    async def refresh(self, req: actions.ActionRequest, progress: Progress | None = None) -> None:
        """Show the request's current state in its message (or in its thread when it cannot be edited, or
        in the ops channel when that channel is closed too)."""
        if req.channel_id and req.message_ts:
            text, blocks = self._message(req, req.lang, progress)
            await slack_messages.update(self.rt, req.channel_id, req.message_ts, text, blocks, what="change.request",
                                        subject=req.id, elsewhere=self.rt.config.incidents.channel)

    async def carry_on_unfinished(self, *, approved: bool = True) -> None:
        """Carry on every unfinished request this process is not running already: at start (a restart cut
        them off: ``approved`` ones run now) and every few seconds after (a replica that stopped or died
        left them running). Each waits for the change's lease, so one a live replica runs is left to it."""
        rt = self.rt
        for req in await actions.unfinished(rt.store):
            if self._running_here(req) or (req.status == actions.APPROVED and not approved):
                continue
            if self.runner is None:
                await self._interrupt(req.id, t("rollback.no_token", req.lang))
                continue
            kind = self.kinds.get(req.action)
            if kind is not None:
                rt.spawn(self._task_name(req), self._run_kind(kind, req, resume=req.status == actions.RUNNING))
            else:
                rt.spawn(self._task_name(req), self._carry_on(req))

    async def _carry_on(self, req: actions.ActionRequest) -> None:
        """An approved deployment change runs; a running one, once its lease is free, is followed again when
        its new deployment is known, else reported as interrupted (its mutation may or may not have left)."""
        ids = await self._ids(self.service(req.service))
        if req.status == actions.APPROVED:
            await self._run(req, ids)
            return
        try:
            async with hold(self.rt.store, req.id, self.holder, self.lease_seconds) as held:
                if held is None or held.request.status != actions.RUNNING:
                    return
                req = held.request
                if not req.new_deployment_id:
                    await self._interrupt(req.id, t("rollback.restart_unknown", req.lang))
                    return
                if req.channel_id:
                    await slack_messages.post(self.rt, req.channel_id,
                                              t("rollback.resumed", req.lang, deployment=req.new_deployment_id),
                                              thread_ts=req.message_ts, what="change.note", subject=req.id)
                await self.runner.follow(req, ids, set(), self._reporter(req.id))
        except actions.LeaseLost:
            _lease_lost(req)

    async def expire_due(self) -> None:
        for req in await actions.due_for_expiry(self.rt.store):
            await self._expire(req.id)


async def _once_the_database_answers(step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` until the bot's database answers it (tried again every NOT_RECORDED_RETRY_SECONDS)."""
    while True:
        try:
            await step()
            return
        except StoreUnavailable:
            await asyncio.sleep(NOT_RECORDED_RETRY_SECONDS)


def _lease_lost(req: actions.ActionRequest) -> None:
    logger.warning("%s %s: another replica took its lease over and carries it on; stopping here", req.action, req.id)


def _mentions(ids: list[str]) -> str:
    return ", ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)


__all__ = ["ChangeKind", "RequestNotPosted", "RollbackFlow", "RollbackRefused", "RollbackUnavailable", "Tell"]
