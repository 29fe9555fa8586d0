"""Findings → a Slack message (fallback text + Block Kit) or terminal text.

Per finding: a section with the verdict, the cause and the evidence (✅/❌/❔ per check), a section
with the numbered remediation, and one actions block per offered action (approval-gated requests,
``action_id`` ``playbook.action``, value ``kind:service:playbook``). A last actions block holds the
"Run again" button. Texts are clipped so the message stays within Slack's limits (50 blocks, 3000
characters per section, 75 per button) in both languages.

Findings are duck-typed (``playbook``, ``verdict``, ``cause``, ``evidence``, ``remediation``,
``actions``), so this module does not import ``playbooks``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.i18n import render_document, slack_escape, t
from bot.render.blocks import MAX_BLOCKS, MAX_FALLBACK, MAX_SECTION, actions, button, clip, context, header, section
from bot.slack.action_ids import ActionId

MAX_LINE = 400
# header, summary context, omitted-findings note, approval note, final actions
_FIXED_BLOCKS = 5

VERDICT_EMOJI = {"ok": ":large_green_circle:", "problem": ":red_circle:", "unknown": ":grey_question:"}
CHECK_EMOJI = {True: ":white_check_mark:", False: ":x:", None: ":grey_question:"}
VERDICT_MARK = {"ok": "🟢", "problem": "🔴", "unknown": "❔"}
CHECK_MARK = {True: "✅", False: "❌", None: "❔"}
_ANSI = {"ok": "32", "problem": "31", "unknown": "33"}


def _name(playbook: str, lang: str) -> str:
    key = f"diagnose.names.{playbook}"
    try:
        return t(key, lang)
    except KeyError:
        return playbook


def _verdict_word(verdict: str, lang: str) -> str:
    return t(f"diagnose.verdict.{verdict}", lang)


def _counts(findings: list[Any]) -> dict[str, int]:
    return {v: sum(1 for f in findings if f.verdict == v) for v in ("ok", "problem", "unknown")}


def _summary(findings: list[Any], lang: str) -> str:
    c = _counts(findings)
    return t("diagnose.render.summary", lang, problems=c["problem"], unknown=c["unknown"], ok=c["ok"])


def _rerun_value(service_name: str, findings: list[Any]) -> str:
    name = findings[0].playbook if len(findings) == 1 else "all"
    return f"{name}:{service_name}"


# ---- Slack ----------------------------------------------------------------------------------------


def _lines_within(head: str, lines: list[str], limit: int, overflow: Callable[[int], str]) -> str:
    """``head`` plus as many ``lines`` as fit in ``limit`` characters; ``overflow(n)`` notes the n left out."""
    text = head
    for i, line in enumerate(lines):
        candidate = f"{text}\n{line}"
        left_after = len(lines) - i - 1
        reserve = len(overflow(left_after)) + 1 if left_after else 0
        if len(candidate) + reserve > limit:
            return clip(f"{text}\n{overflow(len(lines) - i)}", limit)
        text = candidate
    return clip(text, limit)


def _finding_section(finding: Any, service_name: str, lang: str) -> dict:
    head = (f"{VERDICT_EMOJI.get(finding.verdict, '')} *{slack_escape(_name(finding.playbook, lang))}* — "
            f"{slack_escape(_verdict_word(finding.verdict, lang))}\n{slack_escape(clip(finding.cause, 1200))}")
    lines = [f"{CHECK_EMOJI[e.ok]} {slack_escape(clip(e.check, MAX_LINE // 2))} — "
             f"{slack_escape(clip(e.observed, MAX_LINE))}" for e in finding.evidence]
    if lines:
        head += f"\n\n*{slack_escape(t('diagnose.render.evidence', lang))}*"

    def overflow(n: int) -> str:
        return slack_escape(t("diagnose.render.more_evidence", lang, n=n, playbook=finding.playbook,
                              service=service_name))

    return section(_lines_within(head, lines, MAX_SECTION, overflow))


def _remediation_section(finding: Any, lang: str) -> dict | None:
    if not finding.remediation:
        return None
    head = f"*{slack_escape(t('diagnose.render.fix', lang))}*"
    lines = [f"{i}. {slack_escape(clip(step, 900))}" for i, step in enumerate(finding.remediation, 1)]
    text = _lines_within(head, lines, MAX_SECTION, lambda n: "…")
    return section(text)


def _action_button(action: Any, lang: str) -> dict:
    try:
        label = t(action.label_key, lang, service=action.service)
    except KeyError:
        label = f"{action.kind} {action.service}"
    return button(label, ActionId.PLAYBOOK_ACTION, action.value)


def diagnose_message(service_name: str, findings: list[Any], lang: str) -> tuple[str, list[dict]]:
    """(fallback text, Block Kit blocks) for the findings of one service."""
    blocks: list[dict] = [
        header(f"🩺 {t('diagnose.render.header', lang, service=service_name)}"),
        context(slack_escape(_summary(findings, lang))),
    ]
    budget = MAX_BLOCKS - _FIXED_BLOCKS
    offered = False
    omitted: list[str] = []
    for finding in findings:
        if omitted:
            omitted.append(finding.playbook)
            continue
        parts = [_finding_section(finding, service_name, lang)]
        fix = _remediation_section(finding, lang)
        if fix:
            parts.append(fix)
        for action in finding.actions:
            parts.append(actions([_action_button(action, lang)]))
            offered = True
        parts.append({"type": "divider"})
        if len(parts) > budget:
            parts = parts[:1]  # keep at least the verdict, cause and evidence
        if len(parts) > budget:
            omitted.append(finding.playbook)
            continue
        blocks += parts
        budget -= len(parts)
    if omitted:
        note = t("diagnose.render.omitted", lang, n=len(omitted), names=", ".join(omitted), service=service_name)
        blocks.append(context(clip(slack_escape(note), 2900)))
    if offered:
        blocks.append(context(slack_escape(t("diagnose.render.approval_note", lang))))
    blocks.append(actions([button(f"🔄 {t('diagnose.render.rerun', lang)}", ActionId.DIAGNOSE_RUN,
                                  _rerun_value(service_name, findings))]))
    return fallback_text(service_name, findings, lang), blocks


def fallback_text(service_name: str, findings: list[Any], lang: str) -> str:
    lines = "; ".join(f"{VERDICT_MARK.get(f.verdict, '')} {f.playbook}: {_verdict_word(f.verdict, lang)} — "
                      f"{clip(f.cause, 300)}" for f in findings)
    return clip(t("diagnose.render.fallback", lang, service=service_name, lines=lines), MAX_FALLBACK)


# ---- terminal -------------------------------------------------------------------------------------


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def diagnose_text(service_name: str, findings: list[Any], lang: str, color: bool = False) -> str:
    """The findings as terminal text (``bot/i18n/templates/<lang>/diagnose.txt.j2``)."""
    rows = [{
        "name": _name(f.playbook, lang),
        "playbook": f.playbook,
        "mark": VERDICT_MARK.get(f.verdict, ""),
        "verdict": _paint(_verdict_word(f.verdict, lang), _ANSI.get(f.verdict, "0"), color),
        "cause": f.cause,
        "evidence": [{"mark": CHECK_MARK[e.ok], "check": e.check, "observed": e.observed} for e in f.evidence],
        "remediation": list(f.remediation),
        "actions": [t(a.label_key, lang, service=a.service) for a in f.actions],
    } for f in findings]
    header = _paint(t("diagnose.render.header", lang, service=service_name), "1", color)
    return render_document("diagnose.txt.j2", lang, header=header, summary=_summary(findings, lang),
                           findings=rows).rstrip() + "\n"
