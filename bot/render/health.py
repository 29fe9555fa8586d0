"""Health reports → a Slack message (fallback text + Block Kit) or a terminal table.

Up to ``DETAILED_MAX`` services are shown in full (one line per endpoint, drift, versions, buttons);
more than that become one summary line each, so the message stays within Slack's 50 blocks and
3000 characters per section in both languages.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import format_duration, slack_escape, t
from bot.probe.models import Drift, EndpointResult, ServiceReport
from bot.render.blocks import MAX_FALLBACK, MAX_SECTION, actions, button, clip, context, header, section
from bot.slack.action_ids import ActionId

DETAILED_MAX = 8
MAX_SUMMARY_SECTIONS = 40

ENDPOINT_EMOJI = {"ok": ":white_check_mark:", "degraded": ":warning:", "down": ":red_circle:",
                  "timeout": ":hourglass:", "unexpected": ":grey_question:", "missing": ":no_entry_sign:",
                  "skipped": ":heavy_minus_sign:"}
SERVICE_EMOJI = {"healthy": ":large_green_circle:", "degraded": ":large_yellow_circle:", "down": ":red_circle:"}
_ANSI = {"ok": "32", "healthy": "32", "degraded": "33", "unexpected": "33", "missing": "33", "down": "31",
         "timeout": "31"}


# ---- shared wording ------------------------------------------------------------------------------


def reason_text(report: ServiceReport, lang: str, *, slack: bool = True) -> str:
    args = dict(report.reason_args)
    failure = args.get("failure")
    args["failure"] = t(f"health.failure.{failure}", lang) if failure else ""
    verdict = args.get("verdict")
    args["verdict"] = t(f"health.endpoint_verdict.{verdict}", lang) if verdict else ""
    args.setdefault("n", len(report.endpoints))
    args.setdefault("skipped", 0)
    for key in ("path", "detail", "origin", "ready_path", "ready_status"):
        args.setdefault(key, "")
    if slack:
        args = {k: slack_escape(v) if isinstance(v, str) else v for k, v in args.items()}
    return t(f"health.reason.{report.reason}", lang, **args)


def drift_text(drift: Drift, lang: str, *, slack: bool = True) -> str:
    esc = slack_escape if slack else str
    args = {"path": esc(drift.path), "status": drift.status if drift.status is not None else "—",
            "detail": esc(drift.detail), "replacement": esc(drift.replaced_by or ""),
            "replacement_status": drift.replacement_status if drift.replacement_status is not None else "—"}
    if drift.verdict == "promise":
        key = "promise_value" if drift.field else "promise_cors"
        args.update(field=esc(drift.field or ""), promised=esc(str(drift.promised)), seen=esc(str(drift.seen)),
                    origin=esc(drift.origin or ""))
    elif drift.verdict == "unexpected":
        key = "unexpected"
    elif drift.replaced_by and drift.replacement_ok:
        key = "replaced_ok"
    elif drift.replaced_by:
        key = "replaced_failed" if drift.replacement_status is not None else "replaced_silent"
    else:
        key = "missing"
    return t(f"health.drift.{key}", lang, **args)


def _verdict(report: ServiceReport, lang: str) -> str:
    return t(f"health.verdict.{report.verdict}", lang)


def _context(report: ServiceReport, lang: str) -> str:
    return t("health.context", lang, version=report.version or "—", build=report.build_time or "—",
             uptime=format_duration(report.uptime_s, lang), profile=report.profile,
             elapsed=f"{report.elapsed_ms:.0f} ms")


# ---- Slack ---------------------------------------------------------------------------------------


def _endpoint_line(e: EndpointResult, lang: str) -> str:
    path = t("health.origin_line", lang, path=e.path, origin=e.origin) if e.origin else e.path
    verdict = "" if e.verdict == "ok" else t(f"health.endpoint_verdict.{e.verdict}", lang)
    status = e.status if e.status is not None else ("—" if e.verdict == "skipped" else t("health.no_answer", lang))
    return t("health.endpoint_line", lang, emoji=ENDPOINT_EMOJI[e.verdict], path=path, status=status,
             ms="—" if e.latency_ms is None else f"{e.latency_ms:.0f} ms", verdict=verdict,
             detail=e.detail if (e.origin is None or e.verdict != "ok") else "")


def _lines_section(lines: list[str], lang: str, name: str) -> str:
    """Lines joined within a section's limit; what does not fit is counted, not cut mid-line."""
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        line = clip(line, 600)
        if size + len(line) + 1 > MAX_SECTION - 120:
            out.append(t("health.truncated", lang, n=len(lines) - i, name=name))
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def _actions(report: ServiceReport, lang: str, block_id: str) -> dict[str, Any]:
    elements = [button(t("health.button.recheck", lang), ActionId.HEALTH_RECHECK, report.name)]
    if report.next_step:
        elements.append(button(t("health.button.diagnose", lang, playbook=report.next_step), ActionId.DIAGNOSE_RUN,
                               f"{report.next_step}:{report.name}", style="primary"))
    return actions(elements, block_id)


def _service_blocks(report: ServiceReport, lang: str, prefix: str, *, titled: bool) -> list[dict[str, Any]]:
    head = []
    if titled:
        head.append(t("health.service_title", lang, name=report.name,
                      verdict=f"{SERVICE_EMOJI[report.verdict]} {_verdict(report, lang)}"))
    head.append(reason_text(report, lang))
    if report.next_step:
        head.append(t("health.next_step", lang, playbook=report.next_step, service=report.name))
    blocks = [section("\n".join(head), f"{prefix}-reason"),
              section(_lines_section([_endpoint_line(e, lang) for e in report.endpoints], lang, report.name),
                       f"{prefix}-endpoints")]
    if report.drift:
        drift = [f"*{t('health.drift_title', lang)}*"] + [f"• {drift_text(d, lang)}" for d in report.drift]
        blocks.append(section(_lines_section(drift, lang, report.name), f"{prefix}-drift"))
    blocks.append(context(_context(report, lang), block_id=f"{prefix}-context"))
    blocks.append(_actions(report, lang, f"{prefix}-actions"))
    return blocks


def _counts(reports: list[ServiceReport], lang: str) -> str:
    parts = []
    for verdict in ("down", "degraded", "healthy"):
        n = sum(1 for r in reports if r.verdict == verdict)
        if n:
            parts.append(t("health.count", lang, n=n, verdict=t(f"health.verdict.{verdict}", lang)))
    return ", ".join(parts)


def _summary_blocks(reports: list[ServiceReport], lang: str, tag: str) -> list[dict[str, Any]]:
    ordered = sorted(reports, key=lambda r: ("down", "degraded", "healthy").index(r.verdict))
    lines = [clip(t("health.summary_line", lang, emoji=SERVICE_EMOJI[r.verdict], name=r.name,
                     verdict=_verdict(r, lang), reason=reason_text(r, lang)), 700) for r in ordered]
    sections: list[list[str]] = [[]]
    for line in lines:
        if sum(len(x) + 1 for x in sections[-1]) + len(line) > MAX_SECTION - 100:
            sections.append([])
        sections[-1].append(line)
    blocks = []
    for i, chunk in enumerate(sections[:MAX_SUMMARY_SECTIONS]):
        blocks.append(section("\n".join(chunk), f"{tag}-summary-{i}"))
    hidden = sum(len(c) for c in sections[MAX_SUMMARY_SECTIONS:])
    hint = t("health.detail_hint", lang)
    if hidden:
        hint = t("health.more_services", lang, n=hidden) + " " + hint
    blocks.append(context(hint, block_id=f"{tag}-hint"))
    blocks.append(actions([button(t("health.recheck_all", lang), ActionId.HEALTH_RECHECK, "*")], f"{tag}-actions"))
    return blocks


def health_message(reports: list[ServiceReport], lang: str) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks as dicts) for one or more service reports."""
    if not reports:
        return t("health.empty", lang), []
    tag = "h-" + (reports[0].correlation_id[-8:] or "0")
    fallback = "\n".join(f"{r.name}: {_verdict(r, lang)} — {reason_text(r, lang)}" for r in reports)
    if len(reports) == 1:
        r = reports[0]
        title = t("health.header_one", lang, name=r.name, verdict=_verdict(r, lang))
        blocks = [header(f"{SERVICE_EMOJI[r.verdict]} {title}", f"{tag}-header"),
                  *_service_blocks(r, lang, f"{tag}-0", titled=False)]
        return clip(fallback, MAX_FALLBACK), blocks
    blocks = [header(t("health.header_many", lang, n=len(reports), counts=_counts(reports, lang)), f"{tag}-header")]
    if len(reports) <= DETAILED_MAX:
        for i, r in enumerate(reports):
            if i:
                blocks.append({"type": "divider", "block_id": f"{tag}-{i}-divider"})
            blocks.extend(_service_blocks(r, lang, f"{tag}-{i}", titled=True))
    else:
        blocks.extend(_summary_blocks(reports, lang, tag))
    return clip(fallback, MAX_FALLBACK), blocks


# ---- terminal ------------------------------------------------------------------------------------


def _paint(text: str, verdict: str, colour: bool) -> str:
    return f"\x1b[{_ANSI[verdict]}m{text}\x1b[0m" if colour and verdict in _ANSI else text


def _rows(r: ServiceReport, lang: str) -> list[list[str]]:
    return [[e.path + (f" (Origin {e.origin})" if e.origin else ""), str(e.status) if e.status is not None else "—",
             "—" if e.latency_ms is None else f"{e.latency_ms:.0f}", t(f"health.endpoint_verdict.{e.verdict}", lang),
             e.detail] for e in r.endpoints]


def health_table(reports: list[ServiceReport], lang: str, *, colour: bool = False) -> str:
    """Aligned columns (the same for every service), with each service's reason, drift and next step;
    ANSI colour only when asked."""
    if not reports:
        return t("health.empty", lang)
    heads = [t(f"health.table.{k}", lang) for k in ("endpoint", "status", "latency", "verdict", "detail")]
    rows = {id(r): _rows(r, lang) for r in reports}
    every = [heads, *(row for r in reports for row in rows[id(r)])]
    widths = [max(len(row[i]) for row in every) for i in range(4)]
    blocks = []
    for r in reports:
        title = t("health.table.service_line", lang, name=r.name, verdict=_verdict(r, lang),
                  reason=reason_text(r, lang, slack=False), elapsed=f"{r.elapsed_ms:.0f} ms")
        lines = [_paint(title, r.verdict, colour),
                 "  " + "  ".join(h.ljust(w) for h, w in zip(heads[:4], widths, strict=True)) + "  " + heads[4]]
        for e, row in zip(r.endpoints, rows[id(r)], strict=True):
            cells = [row[i].ljust(widths[i]) for i in range(4)]
            cells[3] = _paint(cells[3], e.verdict, colour)
            lines.append("  " + "  ".join(cells) + "  " + row[4])
        lines.extend(f"  ! {drift_text(d, lang, slack=False)}" for d in r.drift)
        if r.next_step:
            lines.append("  " + t("health.next_step_cli", lang, playbook=r.next_step, service=r.name))
        lines.append("  " + _context(r, lang))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
