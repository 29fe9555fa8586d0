"""Findings → Block Kit within Slack's limits (both languages), and terminal text."""

from __future__ import annotations

import pytest

from bot.render.blocks import MAX_BLOCKS, message_problems
from bot.render.diagnose import diagnose_message, diagnose_text
from bot.slack.action_ids import ActionId
from playbooks import run_playbooks
from playbooks.base import Action, Evidence, Finding
from tests.playbook_env import environment

LONG_SERVICE = "backend-" + "x" * 55  # the longest name the services file accepts (63)


def _long_finding(playbook: str, verdict: str = "problem", n_evidence: int = 60) -> Finding:
    evidence = tuple(Evidence(f"check {i} " + "long check " * 30, f"observed <{i}> & " + "seen value " * 70,
                              (None, True, False)[i % 3]) for i in range(n_evidence))
    return Finding(playbook, verdict, "cause " + "cause text " * 250, evidence,
                   tuple(f"step {i} " + "do this now " * 100 for i in range(20)),
                   (Action("redeploy", LONG_SERVICE, playbook, "diagnose.action.redeploy"),
                    Action("restart", LONG_SERVICE, playbook, "diagnose.action.restart")))


def _sections(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def _buttons(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_all_with_long_evidence_stays_within_limits(lang: str) -> None:
    findings = [_long_finding(name, verdict) for name, verdict in
                (("db", "problem"), ("cors", "unknown"), ("jwt", "ok"), ("memory", "problem"))]
    text, blocks = diagnose_message(LONG_SERVICE, findings, lang)
    assert message_problems(text, blocks) == []
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(s) <= 3000 for s in _sections(blocks))
    more = "more checks" if lang == "en" else "comprobaciones más"
    assert sum(more in s for s in _sections(blocks)) == 4  # each finding says how much was left out
    assert "&lt;0&gt; &amp;" in _sections(blocks)[0]  # observed text is escaped for mrkdwn


@pytest.mark.parametrize("lang", ["en", "es"])
def test_many_findings_never_pass_50_blocks(lang: str) -> None:
    findings = [_long_finding(f"p{i}", n_evidence=5) for i in range(30)]
    text, blocks = diagnose_message("backend", findings, lang)
    assert message_problems(text, blocks) == []
    assert blocks[-1]["elements"][0]["action_id"] == ActionId.DIAGNOSE_RUN
    shown = sum(1 for b in blocks if b["type"] == "divider")
    assert 0 < shown < 30
    notes = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any(f"{30 - shown} " in n and "p29" in n for n in notes)  # what did not fit is named


def test_buttons_request_approval_and_rerun() -> None:
    finding = Finding("db", "problem", "cause", (Evidence("c", "o", False),), ("fix",),
                      (Action("redeploy", "backend", "db", "diagnose.action.redeploy"),))
    _, blocks = diagnose_message("backend", [finding], "es")
    buttons = _buttons(blocks)
    request = [b for b in buttons if b["action_id"] == ActionId.PLAYBOOK_ACTION]
    assert [(b["value"], b["text"]["text"]) for b in request] == [("redeploy:backend:db", "Pedir redeploy de backend")]
    rerun = [b for b in buttons if b["action_id"] == ActionId.DIAGNOSE_RUN]
    assert [b["value"] for b in rerun] == ["db:backend"]
    for block in blocks:  # Slack wants action ids unique within one actions block
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            assert len(ids) == len(set(ids))
    assert any("aprobación" in e["text"] for b in blocks if b["type"] == "context" for e in b["elements"])


def test_ok_findings_offer_no_actions_and_rerun_all() -> None:
    findings = [Finding(n, "ok", "fine", (Evidence("c", "o", True),)) for n in ("db", "cors")]
    text, blocks = diagnose_message("backend", findings, "en")
    assert [b["action_id"] for b in _buttons(blocks)] == [ActionId.DIAGNOSE_RUN]
    assert _buttons(blocks)[0]["value"] == "all:backend"
    assert text.startswith("Diagnosis of backend: 🟢 db: OK — fine; 🟢 cors: OK — fine")


def test_terminal_text_in_both_languages() -> None:
    finding = Finding("db", "problem", "The cause.", (Evidence("Check one", "seen", True),
                                                      Evidence("Check two", "not seen", False),
                                                      Evidence("Check three", "not checked", None)),
                      ("First.", "Second."), (Action("restart", "backend", "db", "diagnose.action.restart"),))
    en = diagnose_text("backend", [finding], "en")
    assert en.splitlines()[:2] == ["Diagnosis of backend", "1 problem(s), 0 unknown, 0 OK"]
    assert "🔴 Database (db): problem" in en
    assert "✅ Check one" in en and "❌ Check two" in en and "❔ Check three" in en
    assert "    1. First.\n    2. Second." in en
    assert "Request restart of backend" in en
    es = diagnose_text("backend", [finding], "es")
    assert "Evidencia:" in es and "Qué hacer:" in es and "🔴 Base de datos (db): problema" in es
    coloured = diagnose_text("backend", [finding], "en", color=True)
    assert "\x1b[31mproblem\x1b[0m" in coloured and "\x1b[" not in en


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_real_findings_of_every_playbook_render_within_limits(lang: str) -> None:
    async with environment(origins=["https://app.shop.test", "https://shop.test"]) as env:
        env.set_variables(JWT_SECRET="short", ENCRYPTION_KEY="short", DATABASE_URL="mysql://u@h/db",
                          REDIS_URL="http://cache.internal:6379")
        env.set_metric("MEMORY_USAGE_GB", [1.0 + i * 0.1 for i in range(61)])
        findings = await run_playbooks("all", env.context(lang=lang), timeout=5)
    assert [f.verdict for f in findings] == ["problem"] * 5
    text, blocks = diagnose_message("backend", findings, lang)
    assert message_problems(text, blocks) == []
    assert {b["value"] for b in _buttons(blocks) if b["action_id"] == ActionId.PLAYBOOK_ACTION} == {
        "redeploy:backend:db", "redeploy:backend:redis", "redeploy:backend:cors", "redeploy:backend:jwt",
        "restart:backend:memory"}


def test_catalogues_have_the_same_keys_and_survive_redaction() -> None:
    """Every Finding string passes through redact(): no message may look like a secret to it."""
    from bot.common.redact import redact
    from bot.i18n import catalogue

    en = {k: v for k, v in catalogue("en").items() if k.startswith("diagnose.")}
    es = {k: v for k, v in catalogue("es").items() if k.startswith("diagnose.")}
    assert set(en) == set(es)
    mangled = [(lang, k) for lang, messages in (("en", en), ("es", es)) for k, v in messages.items() if redact(v) != v]
    assert mangled == []
