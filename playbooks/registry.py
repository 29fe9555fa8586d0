"""The playbooks by name, and running several at once.

Every module in this package that defines ``PLAYBOOK`` is registered: adding a playbook is adding a
module. ``run_playbooks`` runs the chosen ones concurrently, each within its own time bound; one that
raises or runs out of time becomes an ``unknown`` Finding saying why, and never stops the others.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import httpx

from bot.common.errors import ChatopsError
from bot.common.redact import redact
from bot.config.services import ServicesFile
from playbooks.base import Finding, Playbook, PlaybookContext

log = logging.getLogger(__name__)

ALL = "all"
DEFAULT_TIMEOUT = 10.0
_MAX_ERROR = 200


@cache
def registry() -> dict[str, Playbook]:
    """Name → playbook, in display order."""
    import playbooks

    found: list[Playbook] = []
    for module in pkgutil.iter_modules(playbooks.__path__):
        playbook = getattr(importlib.import_module(f"playbooks.{module.name}"), "PLAYBOOK", None)
        if isinstance(playbook, Playbook):
            found.append(playbook)
    found.sort(key=lambda p: (p.order, p.name))
    return {p.name: p for p in found}


def playbook_names() -> list[str]:
    return list(registry())


def get_playbook(name: str) -> Playbook | None:
    return registry().get(name)


def playbooks_for_symptom(symptom: str) -> list[Playbook]:
    """Playbooks that answer to a symptom keyword (e.g. ``ready_failing``) or are named by it."""
    key = symptom.strip().lower()
    return [p for p in registry().values() if key == p.name or key in p.symptoms]


def select(names: str | Iterable[str | Playbook]) -> list[Playbook]:
    """``"all"``, one name, or several names (or Playbook objects); an unknown name raises ``KeyError``."""
    if isinstance(names, str):
        names = list(registry()) if names == ALL else [names]
    chosen = []
    for name in names:
        playbook = name if isinstance(name, Playbook) else registry().get(name)
        if playbook is None:
            raise KeyError(name)
        if playbook not in chosen:
            chosen.append(playbook)
    return chosen


def _reason(exc: BaseException) -> str:
    """A safe, short description of a playbook's failure."""
    if isinstance(exc, ChatopsError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = redact(text)
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


async def run_one(playbook: Playbook, ctx: PlaybookContext, timeout: float = DEFAULT_TIMEOUT) -> Finding:
    """Run one playbook within ``timeout`` seconds; failures and timeouts become ``unknown``."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            finding = await playbook.run(ctx)
    except TimeoutError:
        finding = Finding(playbook.name, "unknown", ctx.t("runner.timeout", seconds=timeout),
                          remediation=(ctx.t("runner.timeout_fix"),))
    except Exception as exc:
        log.warning("playbook %s failed: %s", playbook.name, _reason(exc), exc_info=not isinstance(exc, ChatopsError))
        finding = Finding(playbook.name, "unknown", ctx.t("runner.failed", error=_reason(exc)),
                          remediation=(ctx.t("runner.failed_fix"),))
    elapsed = round((time.perf_counter() - start) * 1000, 1)
    return replace(finding, cause=_with_skipped(ctx, finding), elapsed_ms=elapsed)


def _with_skipped(ctx: PlaybookContext, finding: Finding) -> str:
    """The cause, plus which checks did not run and why: a finding never reads as more than was checked."""
    skipped = [e for e in finding.evidence if e.ok is None]
    if not skipped:
        return finding.cause
    why = "; ".join(dict.fromkeys(e.observed.rstrip(".") for e in skipped))
    return f"{finding.cause} {ctx.t('runner.not_checked', n=len(skipped), why=why)}"


async def run_playbooks(names: str | Iterable[str | Playbook], ctx: PlaybookContext,
                        timeout: float = DEFAULT_TIMEOUT) -> list[Finding]:
    """Run the chosen playbooks concurrently; Findings come back in registry order."""
    chosen = select(names)
    try:
        return list(await asyncio.gather(*(run_one(p, ctx, timeout) for p in chosen)))
    finally:
        await ctx.cancel_pending()


@dataclass
class PlaybookRunner:
    """Runs playbooks against a configured service: the one place that builds their context.

    ``railway`` is None without a Railway token (its checks then say they could not run)."""

    services: ServicesFile
    http: httpx.AsyncClient
    railway: Any | None = None  # bot.railway.RailwayClient
    store: Any | None = None
    timeout: float = DEFAULT_TIMEOUT

    async def run(self, names: str | Iterable[str | Playbook], service_name: str, lang: str) -> list[Finding]:
        """The chosen playbooks (or ``"all"``) for ``service_name``; nothing for an unknown service."""
        service = self.services.service(service_name)
        if service is None:
            return []
        ctx = PlaybookContext(service=service, services=self.services, http=self.http, railway=self.railway,
                              lang=lang, store=self.store, http_timeout=min(5.0, self.timeout),
                              db_timeout=min(4.0, self.timeout))
        return await run_playbooks(names, ctx, timeout=self.timeout)

    async def for_symptom(self, service_name: str, symptom: str | None, lang: str) -> list[Finding]:
        """The playbooks that answer to ``symptom`` (every playbook when none does): an incident's evidence."""
        chosen = [p.name for p in playbooks_for_symptom(symptom)] if symptom else []
        return await self.run(chosen or ALL, service_name, lang)
