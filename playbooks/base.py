"""What a playbook is and what it returns.

A playbook gathers evidence (the service's endpoints, Railway, the database) and returns a Finding:
a verdict, a one-line cause, the evidence, the steps to fix it and the actions the bot may offer as
buttons. Findings are plain data; only ``bot.render.diagnose`` turns them into Block Kit or text.

Strings in a Finding are already rendered in the context's language (``PlaybookContext.t``) and pass
through ``bot.common.redact.redact`` once more when built: a value read from Railway or a log line never
carries a secret out of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from bot.charts.spec import ChartSpec
from bot.common.redact import redact
from bot.config.services import ServiceConfig, ServicesFile
from bot.i18n import t

Verdict = Literal["ok", "problem", "unknown"]
VERDICTS: tuple[Verdict, ...] = ("ok", "problem", "unknown")
ActionKind = Literal["redeploy", "restart", "rollback"]


@dataclass(frozen=True)
class Evidence:
    """One check: what was looked at, what was seen, and whether it passed (None: could not check)."""

    check: str
    observed: str
    ok: bool | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", redact(self.check))
        object.__setattr__(self, "observed", redact(self.observed))

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "observed": self.observed, "ok": self.ok}


@dataclass(frozen=True)
class Action:
    """A change the bot may offer as a button; the approval flow (not the playbook) carries it out.

    ``label_key`` is a catalogue key for the button text.
    """

    kind: ActionKind
    service: str
    playbook: str
    label_key: str

    @property
    def value(self) -> str:
        """The button value: ``kind:service:playbook``."""
        return f"{self.kind}:{self.service}:{self.playbook}"


@dataclass(frozen=True)
class Finding:
    playbook: str
    verdict: Verdict
    cause: str
    evidence: tuple[Evidence, ...] = ()
    remediation: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    elapsed_ms: float = 0.0
    # A picture of the evidence, posted after the finding (whose text stands alone without it).
    chart: ChartSpec | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        object.__setattr__(self, "cause", redact(self.cause))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        object.__setattr__(self, "remediation", tuple(redact(step) for step in self.remediation))
        object.__setattr__(self, "actions", tuple(self.actions))

    def to_json(self) -> dict[str, Any]:
        return {"playbook": self.playbook, "verdict": self.verdict, "cause": self.cause,
                "evidence": [e.to_json() for e in self.evidence], "remediation": list(self.remediation)}


def findings_to_json(findings: list[Finding]) -> dict[str, Any]:
    """The ``chatops diagnose --json`` document."""
    return {"findings": [f.to_json() for f in findings]}


@dataclass
class PlaybookContext:
    """Everything a playbook may use, created once per run and shared by the playbooks of that run.

    ``railway`` is None when no Railway token is configured: Railway-based evidence is then reported
    as "could not check". ``store`` is the bot's store when running inside the bot (unused by the
    built-in playbooks).
    """

    service: ServiceConfig
    services: ServicesFile
    http: httpx.AsyncClient
    railway: Any | None = None  # bot.railway.RailwayClient
    lang: str = "en"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    store: Any | None = None
    http_timeout: float = 5.0
    db_timeout: float = 4.0
    _shared: dict[str, asyncio.Future] = field(default_factory=dict, repr=False)

    def t(self, key: str, **variables: Any) -> str:
        """A ``diagnose.*`` message in the context's language (``key`` without the section)."""
        return t(f"diagnose.{key}", self.lang, **variables)

    async def shared(self, key: str, factory: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``factory`` once per context (e.g. the service's variables, read by several playbooks).

        The task is shielded, so a playbook that times out does not cancel it for the others.
        """
        task = self._shared.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            self._shared[key] = task
        return await asyncio.shield(task)

    async def cancel_pending(self) -> None:
        """Stop shared work no playbook waits for any more (after a run, or when every waiter timed out)."""
        pending = [task for task in self._shared.values() if not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for key, task in list(self._shared.items()):
            if task.cancelled():
                del self._shared[key]
            else:
                task.exception()  # retrieved: no "exception was never retrieved" warning


Run = Callable[[PlaybookContext], Awaitable[Finding]]


@dataclass(frozen=True)
class Playbook:
    name: str
    symptoms: tuple[str, ...]
    needs: tuple[str, ...]  # of "config", "railway", "http", "database", "store"
    run: Run
    order: int = 100


def verdict_of(evidence: list[Evidence] | tuple[Evidence, ...]) -> Verdict:
    """problem when a check failed, ok when at least one passed and none failed, else unknown."""
    if any(e.ok is False for e in evidence):
        return "problem"
    if any(e.ok for e in evidence):
        return "ok"
    return "unknown"


def conclude(ctx: PlaybookContext, name: str, evidence: list[Evidence], cause: str, steps: list[str],
             kinds: list[str]) -> Finding:
    """A playbook's Finding from its evidence and diagnosis: a diagnosed fix is a problem too; evidence
    that says nothing gets the ``<name>.cause.unknown`` sentence, a failed check without a diagnosis the
    ``<name>.cause.partial`` one; the changes in ``kinds`` are offered only for a problem."""
    service = ctx.service.name
    verdict = "problem" if steps else verdict_of(evidence)
    if verdict == "unknown":
        cause, steps = ctx.t(f"{name}.cause.unknown"), [ctx.t(f"{name}.fix.more_evidence")]
    if verdict == "problem" and not steps:
        cause, steps, kinds = ctx.t(f"{name}.cause.partial"), [ctx.t(f"{name}.fix.logs", service=service)], []
    actions = tuple(Action(kind, service, name, f"diagnose.action.{kind}")  # type: ignore[arg-type]
                    for kind in kinds) if verdict == "problem" else ()
    return Finding(name, verdict, cause, tuple(evidence), tuple(steps), actions)
