"""Health reports rendered for Slack (within Block Kit limits, both languages) and for a terminal."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.probe.models import Drift, EndpointResult, ServiceReport
from bot.render.blocks import message_problems
from bot.render.health import health_message, health_table
from bot.slack.action_ids import ActionId
from tests.probe_helpers import prober, service

pytest_plugins = ["tests.probe_fixtures"]
LANGS = ("en", "es")


def endpoint(path: str, verdict: str = "ok", status: int | None = 200, detail: str = "status=ok",
             failure: str | None = None) -> EndpointResult:
    return EndpointResult(path, "http://x" + path, status, 12.3, verdict, failure, detail, {}, "liveness")


def report(name: str = "backend", verdict: str = "healthy", *, reason: str = "healthy", next_step: str | None = None,
           endpoints: list[EndpointResult] | None = None, drift: list[Drift] | None = None,
           reason_args: dict | None = None) -> ServiceReport:
    eps = endpoints or [endpoint("/health"), endpoint("/ready", detail="ready=true db=true")]
    return ServiceReport(name=name, url="http://x", profile="ivan-reseller-web", verdict=verdict, reason=reason,
                         next_step=next_step, elapsed_ms=45.6, endpoints=eps, version="9f8e7d6",
                         build_time="2026-05-20T23:38:33Z", uptime_s=3725.0, drift=drift or [],
                         checked_at=datetime(2026, 5, 21, tzinfo=UTC), reason_args=reason_args or {"n": len(eps)},
                         correlation_id="chatops-0123456789ab")


def db_down(name: str = "backend") -> ServiceReport:
    eps = [endpoint("/health"), endpoint("/api/system/diagnostics", "down", 200, "database=FAIL")]
    return report(name, "degraded", reason="db_down_now", next_step="db", endpoints=eps,
                  reason_args={"path": "/api/system/diagnostics", "detail": "database=FAIL"})


def buttons(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize("lang", LANGS)
def test_one_service_message(lang):
    text, blocks = health_message([db_down()], lang)
    assert message_problems(text, blocks) == []
    assert blocks[0]["type"] == "header" and "backend" in blocks[0]["text"]["text"]
    body = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "`/health` 200 · 12 ms" in body and "`/api/system/diagnostics` 200" in body
    assert "database=FAIL" in body and "/diagnose db backend" in body
    context = next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]
    assert "9f8e7d6" in context and "2026-05-20T23:38:33Z" in context and "1 h 2 min" in context
    recheck, diagnose = buttons(blocks)
    assert (recheck["action_id"], recheck["value"]) == (ActionId.HEALTH_RECHECK, "backend")
    assert (diagnose["action_id"], diagnose["value"]) == (ActionId.DIAGNOSE_RUN, "db:backend")
    assert "backend" in text


def test_wording_differs_by_language():
    en, es = (health_message([db_down()], lang)[0] for lang in LANGS)
    assert "degraded" in en and "database is down right now" in en
    assert "degradado" in es and "base de datos está caída" in es


def test_no_diagnose_button_without_a_next_step():
    _, blocks = health_message([report()], "en")
    assert [b["action_id"] for b in buttons(blocks)] == [ActionId.HEALTH_RECHECK]


@pytest.mark.parametrize("lang", LANGS)
def test_drift_lines(lang):
    drift = Drift("/api/system/health/detailed", "missing", 404, "HTTP 404", "/api/system/diagnostics", 200, True)
    r = report(reason="healthy_drift", drift=[drift], reason_args={"n": 1, "path": drift.path})
    text, blocks = health_message([r], lang)
    assert message_problems(text, blocks) == []
    body = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    sentence = {"en": "/api/system/health/detailed → 404: no longer served; /api/system/diagnostics answers",
                "es": "/api/system/health/detailed → 404: ya no existe; /api/system/diagnostics sí responde"}[lang]
    assert sentence in body


@pytest.mark.parametrize(("status", "ok", "words"), [(200, False, "answers 200 but reports a problem"),
                                                      (None, False, "does not answer either")])
def test_drift_when_the_replacement_is_not_fine(status, ok, words):
    drift = Drift("/api/system/health/detailed", "missing", 404, "HTTP 404", "/api/system/diagnostics", status, ok)
    _, blocks = health_message([report(verdict="degraded", reason="drift", drift=[drift],
                                       reason_args={"n": 1, "detail": str(drift)})], "en")
    assert words in repr(blocks)


def test_text_from_bodies_is_escaped():
    eps = [endpoint("/health", "unexpected", 200, "body not JSON: '<!channel> & <@U123>'", "not_json")]
    text, blocks = health_message([report(verdict="degraded", reason="endpoint_failed", endpoints=eps,
                                          reason_args={"path": "/health", "detail": "<!here>", "verdict": "unexpected",
                                                       "failure": "not_json"})], "en")
    dumped = repr(blocks) + text
    assert "<!channel>" not in dumped and "<!here>" not in dumped and "&lt;!channel&gt; &amp; &lt;@U123&gt;" in dumped


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("count", [2, 8, 9, 30, 400])
def test_many_services_stay_within_block_kit_limits(lang, count):
    reports = [db_down(f"service-{i:03d}") if i % 3 == 0 else report(f"service-{i:03d}") for i in range(count)]
    text, blocks = health_message(reports, lang)
    assert message_problems(text, blocks) == []
    assert len(blocks) <= 50
    assert blocks[0]["type"] == "header" and str(count) in blocks[0]["text"]["text"]
    shown = "\n".join(b["text"]["text"] for b in blocks if b["type"] in ("section",))
    if count <= 30:
        assert all(r.name in shown for r in reports)
    if count > 8:  # summary: the broken ones first, and one "re-check all" button
        assert shown.index("service-000") < shown.index("service-001")
        assert [(b["action_id"], b["value"]) for b in buttons(blocks)] == [(ActionId.HEALTH_RECHECK, "*")]


@pytest.mark.parametrize("lang", LANGS)
def test_huge_details_are_cut_within_section_limits(lang):
    eps = [endpoint(f"/p{i}", "down", 503, "x" * 900, "http_5xx") for i in range(60)]
    r = report(verdict="degraded", reason="endpoint_failed", endpoints=eps, next_step="db",
               reason_args={"path": "/p0", "detail": "y" * 5000, "verdict": "down", "failure": "http_5xx"})
    text, blocks = health_message([r, r], lang)
    assert message_problems(text, blocks) == []


def test_table_is_aligned_and_plain_unless_colour_is_asked():
    r = db_down()
    plain = health_table([r, report("other")], "en")
    assert "\x1b[" not in plain
    lines = plain.splitlines()
    headers = [line for line in lines if "ENDPOINT" in line]
    rows = [line for line in lines if line.startswith("  /")]
    assert len(headers) == 2 and len(set(headers)) == 1 and len(rows) == 4
    col = headers[0].index("STATUS")
    assert all(re.match(r"\d{3} ", row[col:]) for row in rows)
    assert "Next step: chatops diagnose db backend" in plain
    assert "&lt;" not in health_table([report(reason="endpoint_failed", reason_args={
        "path": "/a<b>", "verdict": "down", "failure": "http_5xx", "detail": ""})], "en")
    coloured = health_table([r], "en", colour=True)
    assert "\x1b[33m" in coloured


def test_table_in_spanish():
    out = health_table([db_down()], "es")
    assert "ESTADO" in out and "VEREDICTO" in out and "degradado" in out
    assert "Siguiente paso" in out


async def test_rendering_a_real_probe(emu, http):
    emu.set_state(db_down_at_boot=True)
    real = await prober(http).probe_service(service(emu.url, frontend_origins=["https://example.org"]))
    for lang in LANGS:
        text, blocks = health_message([real], lang)
        assert message_problems(text, blocks) == []
        assert len([line for b in blocks if b["type"] == "section" for line in b["text"]["text"].splitlines()
                    if line.startswith(":")]) == len(real.endpoints)
        assert real.name in health_table([real], lang)
