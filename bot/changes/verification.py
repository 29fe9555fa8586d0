"""Post-deploy verification, the runbook's checklist done by the bot.

Health endpoints (the service's /health probe, its readiness included) and the new deployment's
logs scanned for ``ERROR``, ``FATAL``, ``UNCAUGHT EXCEPTION`` and the real backend's own failure
lines; lines the bot's own probes caused are not counted (``bot.changes.logscan``). The verdict
names the boot line it found: the runbook's "Server running on port" line is never printed by the
real backend, which says ``SERVER_BOOT_OK``, ``✅ LISTENING OK`` or ``[STARTUP] Listening on port N``.
Used after rollbacks and by the deploy watch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.changes.logscan import LogScan, scan
from bot.i18n import t
from bot.probe.models import ServiceReport
from bot.railway.errors import RailwayError
from bot.runtime import Runtime
from bot.store.probes import keep_reports

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verification:
    healthy: bool
    reason: str
    next_step: str | None
    report: ServiceReport | None


async def verify_deployment(rt: Runtime, service_name: str, deployment_id: str, lang: str) -> Verification:
    service = rt.config.service(service_name)
    report = await rt.prober.probe_service(service)
    rt.spawn("probe-history", keep_reports(rt.store, [report], source="verify"))
    log_problems: list[str] = []
    found = None
    logs_note = t("verify.logs_not_read", lang)
    if rt.railway is not None:
        try:
            found = scan(await rt.railway.deployment_logs(deployment_id, limit=1000))
            log_problems = [hit.text for hit in found.errors]
            if found.error_count and not log_problems:
                log_problems = ["…"]
            logs_note = _boot_note(found, lang)
        except RailwayError as exc:
            logger.warning("could not read logs of %s: %s", deployment_id, exc)
            logs_note = t("verify.logs_unreadable", lang)
    healthy = report.verdict == "healthy" and not log_problems
    if healthy:
        reason = t("verify.healthy", lang, ms=report.elapsed_ms, logs=logs_note)
    elif report.verdict != "healthy":
        reason = t("verify.unhealthy_probe", lang, verdict=t(f"health.verdict.{report.verdict}", lang),
                   reason=report.reason_line)
    else:
        assert found is not None
        reason = t("verify.log_problems", lang, count=found.error_count, first=log_problems[0][:200])
    return Verification(healthy, reason, report.next_step or ("all" if not healthy else None), report)


def _boot_note(found: LogScan, lang: str) -> str:
    """What the logs say about the boot: the real boot line, or that none was seen."""
    boot = found.first.get("listening")
    if boot is None:
        return t("verify.logs_clean_no_boot_line", lang, own=found.own_traffic)
    return t("verify.logs_clean", lang, line=boot.text, own=found.own_traffic)


def make_verifier(rt: Runtime):
    """The RollbackRunner's verifier for this runtime (language from the request's channel)."""

    async def verifier(service_name: str, deployment_id: str, lang: str = "en"):
        result = await verify_deployment(rt, service_name, deployment_id, lang)
        return result.healthy, result.reason, result.next_step

    return verifier
