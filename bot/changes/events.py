"""What the change flow tells the rest of the bot, as typed events.

The composition root subscribes listeners (the incidents) to ``ChangeEvents``; this package never
imports them. Every event carries the request as stored right after the step, so a listener reads
who asked, who decided and what ran without going back to the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.changes.runner import Progress
from bot.store.models import ActionRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeRequested:
    """A change was asked for (``/rollback``, an incident's button, a playbook's offer)."""

    request: ActionRequest


@dataclass(frozen=True)
class ChangeDecided:
    """A pending request was approved, rejected, withdrawn by its requester, or expired."""

    request: ActionRequest
    outcome: str  # approved | rejected | withdrawn | expired


@dataclass(frozen=True)
class ChangeFinished:
    """An approved change ended: ``progress.stage`` is ``done`` (ran and was verified) or ``failed``."""

    request: ActionRequest
    progress: Progress


@dataclass
class ChangeEvents:
    """The subscribers of each event; a failing subscriber is logged and never stops the change."""

    on_requested: list[Callable[[ChangeRequested], Awaitable[None]]] = field(default_factory=list)
    on_decided: list[Callable[[ChangeDecided], Awaitable[None]]] = field(default_factory=list)
    on_finished: list[Callable[[ChangeFinished], Awaitable[None]]] = field(default_factory=list)

    async def requested(self, request: ActionRequest | None) -> None:
        if request is not None:
            await _tell(self.on_requested, ChangeRequested(request))

    async def decided(self, request: ActionRequest | None, outcome: str) -> None:
        if request is not None:
            await _tell(self.on_decided, ChangeDecided(request, outcome))

    async def finished(self, request: ActionRequest | None, progress: Progress) -> None:
        if request is not None:
            await _tell(self.on_finished, ChangeFinished(request, progress))


async def _tell(listeners: list, event: object) -> None:
    for listener in listeners:
        try:
            await listener(event)
        except Exception:
            logger.exception("a listener of %s failed", type(event).__name__)
