"""The cors playbook: the backend's parsing rules, and live answers of the target emulator."""

from __future__ import annotations

import itertools

import pytest

from playbooks import cors, cors_rules
from playbooks.base import Finding
from sandbox.emulators import target_cors
from tests.playbook_env import environment


def _evidence(finding: Finding, fragment: str) -> list:
    found = [e for e in finding.evidence if fragment in e.check]
    assert found, [e.check for e in finding.evidence]
    return found


# ---- parsing as the backend parses (target-backend.md §2.5, §3) ----------------------------------


def test_order_trailing_slash_and_built_ins_as_recorded() -> None:
    allow = cors_rules.build({"CORS_ORIGIN": "https://app.example.test, https://www.example.org/"})
    assert allow.entries == ["https://www.example.org", "https://app.example.test", "https://www.ivanreseller.com",
                             "https://ivanreseller.com"]


def test_apex_against_www_entry_gets_the_entry() -> None:
    allow = cors_rules.build({"CORS_ORIGIN": "https://app.example.test, https://www.example.org/"})
    m = cors_rules.match("https://example.org", allow)
    assert (m.rule, m.entry, m.works_in_browser) == ("hostname-match", "https://www.example.org", False)
    port = cors_rules.match("https://plain.example.net", cors_rules.build({"CORS_ORIGIN": "http://plain.example.net:8080"}))
    assert (port.rule, port.entry) == ("hostname-match", "http://plain.example.net:8080")


def test_quotes_prefixes_wildcards_and_bad_separators() -> None:
    env = {"CORS_ORIGIN": "\"https://a.test\", CORS_ORIGIN=https://b.test/, *, https://*.foo.com, www.c.test",
           "CORS_ORIGINS": "https://d.test;https://e.test"}
    allow = cors_rules.build(env)
    assert "https://a.test" in allow.entries and "https://b.test" in allow.entries
    assert cors_rules.match("https://x.foo.com", allow).rule == "none"
    kinds = {(i.token, i.kind) for i in allow.issues}
    assert ("*", cors_rules.DROPPED_WILDCARD) in kinds
    assert ("https://*.foo.com", cors_rules.LITERAL_WILDCARD) in kinds
    assert ("www.c.test", cors_rules.NO_SCHEME) in kinds
    assert ("https://d.test;https://e.test", cors_rules.NOT_COMMA) in kinds


def test_dynamic_rule_and_non_production_origins() -> None:
    prod = cors_rules.build({"NODE_ENV": "production"})
    assert cors_rules.match("https://preview-1.vercel.app", prod).rule == "dynamic"
    assert "http://localhost:5173" not in prod.entries
    assert "http://localhost:5173" in cors_rules.build({"NODE_ENV": "development"}).entries
    assert cors_rules.build({}).production  # the backend's Dockerfile sets NODE_ENV=production


def test_frontend_url_adds_its_twin_first() -> None:
    allow = cors_rules.build({"FRONTEND_URL": "https://shop.example.io", "CORS_ORIGIN": "https://a.test"})
    assert allow.entries[:3] == ["https://shop.example.io", "https://www.shop.example.io", "https://a.test"]


RAW = [None, "https://app.example.test, https://www.example.org/", "'https://Example.org'", "https://a.test/,http://a.test",
       "https://*.foo.com, *", "CORS_ORIGINS=https://q.test", "https://www.ivanreseller.com"]
ORIGINS = ["https://example.org", "https://www.example.org", "https://a.test", "http://a.test:8080",
           "https://x.foo.com", "https://q.test", "https://p.vercel.app", "http://localhost:3000",
           "https://ivanreseller.com", "https://unknown.test"]


@pytest.mark.parametrize(("cors_origin", "cors_origins", "frontend_url"),
                         list(itertools.product(RAW, RAW[:4], [None, "https://shop.example.io"])))
def test_rules_agree_with_the_target_emulator(cors_origin, cors_origins, frontend_url) -> None:
    """Two implementations of target-backend.md §3, written apart, give the same lists and matches."""
    for production in (True, False):
        env = {k: v for k, v in (("CORS_ORIGIN", cors_origin), ("CORS_ORIGINS", cors_origins),
                                 ("FRONTEND_URL", frontend_url)) if v is not None}
        env["NODE_ENV"] = "production" if production else "development"
        mine = cors_rules.build(env)
        theirs = target_cors.build_allowlist(cors_origins=cors_origins, cors_origin=cors_origin,
                                             frontend_url=frontend_url, production=production)
        assert mine.entries == theirs
        for origin in ORIGINS:
            a, b = cors_rules.match(origin, mine), target_cors.match_origin(origin, theirs)
            assert (a.rule, a.entry) == (b.rule, b.entry), origin


def test_suggested_value_keeps_good_tokens_and_adds_the_origin() -> None:
    env = {"CORS_ORIGIN": "https://a.test/, *, https://*.x.test"}
    assert cors_rules.suggested_value(env, "CORS_ORIGIN", ["https://b.test"]) == "https://a.test,https://b.test"
    assert cors_rules.target_variable({"CORS_ORIGINS": "https://a.test"}) == "CORS_ORIGINS"
    assert cors_rules.target_variable({}) == "CORS_ORIGIN"


# ---- scenarios against the emulators ---------------------------------------------------------------


async def test_healthy() -> None:
    async with environment() as env:
        finding = await cors.run(env.context())
    assert finding.verdict == "ok", finding
    assert len(_evidence(finding, "Preflight")) == 2 and all(e.ok for e in _evidence(finding, "Preflight"))
    assert all(e.ok for e in _evidence(finding, "GET with"))
    assert not finding.actions


async def test_origin_missing_names_the_exact_value_and_variable() -> None:
    async with environment(origins=["https://app.shop.test"]) as env:
        finding = await cors.run(env.context())
    assert finding.verdict == "problem"
    assert "`https://app.shop.test` is not in the backend's allow-list (`CORS_ORIGIN`)" in finding.cause
    preflight = _evidence(finding, "Preflight")[0]
    assert preflight.ok is False and "403" in preflight.observed
    get = _evidence(finding, "GET with")[0]
    assert get.ok is False and "500" in get.observed
    assert ("Set `CORS_ORIGIN` in Railway → `backend` → Variables to exactly "
            "`https://www.ivanreseller.com,https://ivanreseller.com,https://app.shop.test`") in finding.remediation[0]
    assert any(s.startswith("Redeploy `backend`") for s in finding.remediation)
    assert [a.kind for a in finding.actions] == ["redeploy"]


async def test_www_vs_apex_needs_both_forms() -> None:
    async with environment(origins=["https://shop.test"],
                           target_kwargs={"cors_origin": "https://www.shop.test"}) as env:
        env.set_variables(CORS_ORIGIN="https://www.shop.test")
        finding = await cors.run(env.context(lang="es"))
    assert finding.verdict == "problem"
    assert "www frente a dominio sin www" in finding.cause
    preflight = _evidence(finding, "Preflight")[0]
    assert preflight.ok is False and "https://www.shop.test" in preflight.observed  # ACAO is the entry
    assert "`https://www.shop.test,https://shop.test`" in finding.remediation[0]
    assert finding.remediation[0].startswith("Verificar `CORS_ORIGIN` o `CORS_ORIGINS` en Railway Variables")
    assert any("Incluye las dos formas" in s for s in finding.remediation)


async def test_wildcards_do_not_work() -> None:
    async with environment(origins=["https://app.shop.test"],
                           target_kwargs={"cors_origin": "https://*.shop.test"}) as env:
        env.set_variables(CORS_ORIGIN="https://*.shop.test")
        finding = await cors.run(env.context())
    assert finding.verdict == "problem"
    assert "wildcards" in finding.cause
    token = _evidence(finding, "An entry of `CORS_ORIGIN`")[0]
    assert token.ok is False and "matches nothing" in token.observed
    assert "exactly `https://app.shop.test`" in finding.remediation[0]


async def test_variables_changed_without_redeploy() -> None:
    async with environment(origins=["https://app.shop.test"]) as env:  # the running backend has the old list
        env.set_variables(CORS_ORIGIN="https://www.ivanreseller.com,https://ivanreseller.com,https://app.shop.test")
        finding = await cors.run(env.context())
    assert finding.verdict == "problem"
    assert "changed after the last deploy" in finding.cause
    running = _evidence(finding, "running process")[0]
    assert running.ok is False
    assert finding.remediation[0].startswith("Redeploy `backend`")
    assert [a.kind for a in finding.actions] == ["redeploy"]


async def test_plural_variable_is_where_the_fix_goes() -> None:
    async with environment(origins=["https://app.shop.test"], target_kwargs={"cors_origin": None,
                                                                              "cors_origins": "https://a.test"}) as env:
        env.drop_variable("CORS_ORIGIN")
        env.set_variables(CORS_ORIGINS="https://a.test")
        finding = await cors.run(env.context())
    assert "Set `CORS_ORIGINS`" in finding.remediation[0]
    assert "exactly `https://a.test,https://app.shop.test`" in finding.remediation[0]


async def test_no_frontend_origins_is_unknown() -> None:
    async with environment(origins=[]) as env:
        finding = await cors.run(env.context())
    assert finding.verdict == "unknown"
    assert "frontend_origins" in finding.cause


async def test_without_railway_the_live_checks_still_decide() -> None:
    async with environment(origins=["https://app.shop.test"]) as env:
        finding = await cors.run(env.context(railway=False))
    assert finding.verdict == "problem"
    assert _evidence(finding, "Allow-list built")[0].ok is None
    assert "`https://app.shop.test`" in finding.cause
    assert finding.remediation[0].startswith("Add `https://app.shop.test` to `CORS_ORIGIN`")
    assert "exactly" not in finding.remediation[0]  # the current value is unknown: nothing would be dropped
