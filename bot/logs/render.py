"""Block Kit (and terminal text) for ``/logs``: a header with counts and repeats, then one page of
entries, newest last, with a More button while older entries remain."""

from __future__ import annotations

from dataclasses import replace

from bot.i18n import slack_escape, t
from bot.logs.fold import Entry
from bot.logs.query import LogWindow
from bot.slack.action_ids import ActionId

PAGE_ENTRIES = 20
PAGE_CHARS = 2600  # one section holds 3,000 characters, with the code fence and escaping to spare
SHOWN_TRACE = 3
_SHORT = {"error": "ERR", "warn": "WRN", "info": "INF", "debug": "DBG"}


def entry_lines(entry: Entry, lang: str, *, trace: int = SHOWN_TRACE) -> list[str]:
    stamp = entry.timestamp.strftime("%H:%M:%S") if entry.timestamp else "--:--:--"
    times = f"  ×{entry.count:,}" if entry.count > 1 else ""
    lines = [f"{stamp} {_SHORT.get(entry.severity, 'INF')} {entry.head}{times}"]
    lines += [f"    {line.strip()}" for line in entry.trace[:trace]]
    hidden = len(entry.trace) - trace + entry.more_lines
    if hidden > 0:
        lines.append("    " + t("logs.more_trace", lang, n=hidden))
    return lines


def page(entries: list[Entry], offset: int, lang: str) -> tuple[list[Entry], int]:
    """The entries of the page that ends ``offset`` entries before the newest, oldest first, and how many
    older ones remain before it."""
    end = len(entries) - offset
    picked: list[Entry] = []
    size = 0
    index = end - 1
    while index >= 0 and len(picked) < PAGE_ENTRIES:
        text = "\n".join(entry_lines(entries[index], lang))
        cost = len(slack_escape(text)) + 1
        if picked and size + cost > PAGE_CHARS:
            break
        picked.append(entries[index])
        size += cost
        index -= 1
    picked.reverse()
    return picked, index + 1


def _summary(window: LogWindow, lang: str) -> list[str]:
    folded = window.folded
    counts = ", ".join(t("logs.level_count", lang, level=level, n=n) for level, n in folded.counts.items())
    lines = [t("logs.read", lang, lines=folded.lines, entries=len(folded.entries), counts=counts or "—")]
    if folded.own:
        lines.append(t("logs.own_traffic", lang, n=folded.own))
    if window.capped:
        lines.append(t("logs.capped", lang, limit=folded.lines))
    return lines


def logs_message(window: LogWindow, lang: str) -> tuple[str, list[dict]]:
    q = window.query
    where = (t("logs.where_deployment", lang, deployment=q.deployment_id) if q.deployment_id
             else t("logs.where_service", lang))
    title = t("logs.header", lang, service=q.service)
    scope = t("logs.scope", lang, since=q.since, where=where, text=q.text, level=q.level or "", end=window.end)
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": scope[:3000]}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(_summary(window, lang))[:3000]}},
    ]
    if window.folded.top:
        top = "\n".join(t("logs.top_line", lang, n=n, message=slack_escape(m[:200])) for m, n in window.folded.top)
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": (t("logs.top_title", lang) + "\n" + top)[:3000]}})
    entries = window.folded.entries
    shown, older = page(entries, q.offset, lang)
    if shown:
        body = slack_escape("\n".join(line for e in shown for line in entry_lines(e, lang)))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{body[:2990]}```"}})
        first = older + 1
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": t(
            "logs.page", lang, first=first, last=older + len(shown), total=len(entries))}]})
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": t("logs.none", lang)}})
    if older > 0:
        next_query = replace(q, offset=len(entries) - older)
        blocks.append({"type": "actions", "block_id": f"logs-more-{len(entries) - older}", "elements": [
            {"type": "button", "action_id": ActionId.LOGS_MORE.value, "value": next_query.to_value()[:2000],
             "text": {"type": "plain_text", "text": t("logs.more", lang, n=min(older, PAGE_ENTRIES))[:75]}}]})
    text = t("logs.fallback", lang, service=q.service, entries=len(entries),
             errors=window.folded.counts.get("error", 0))
    return text, blocks


def logs_text(window: LogWindow, lang: str, limit: int) -> str:
    """The terminal form: header, counts, repeats, then the newest ``limit`` entries in full."""
    q = window.query
    out = [t("logs.header", lang, service=q.service), *_summary(window, lang)]
    if window.folded.top:
        out.append(t("logs.top_title", lang))
        out += [t("logs.top_line_plain", lang, n=n, message=m) for m, n in window.folded.top]
    out.append("")
    for entry in window.folded.entries[-limit:] if limit else window.folded.entries:
        out += entry_lines(entry, lang, trace=len(entry.trace))
    if not window.folded.entries:
        out.append(t("logs.none", lang))
    return "\n".join(out)
