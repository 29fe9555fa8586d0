"""Health profiles are data: the built-in ones load and match the real backend; bad ones are named."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.common.errors import ConfigError
from bot.config.services import parse_services
from bot.i18n import catalogue
from bot.probe.profiles import builtin_profiles, check_profiles, load_profile, reason_codes
from tests.shared import shared_path

RUNBOOK_ENDPOINTS = ["/health", "/api/health", "/ready", "/api/system/health/detailed", "/api/cors-debug",
                     "/config", "/version"]


def test_builtin_profiles():
    assert builtin_profiles() == ["ivan-reseller-web", "runbook"]
    runbook = load_profile("runbook")
    assert [e.path for e in runbook.probed] == RUNBOOK_ENDPOINTS
    detailed = runbook.endpoint("/api/system/health/detailed")
    assert detailed.auth and detailed.replaced_by == "/api/system/diagnostics"


@pytest.mark.shared
def test_runbook_profile_lists_what_the_runbook_lists():
    text = shared_path("reference/runbook-es.md").read_text(encoding="utf-8")
    table = text[text.index("### Health Endpoints"):]
    listed = re.findall(r"^\| `GET (/[^`]*)`", table, re.M)
    assert listed == RUNBOOK_ENDPOINTS


@pytest.mark.shared
def test_real_backend_profile_covers_the_seven_endpoints_and_the_live_db_check():
    text = shared_path("reference/target-backend.md").read_text(encoding="utf-8")
    documented = re.findall(r"^### 2\.\d `GET ([^`]+)`", text, re.M)
    profile = load_profile("ivan-reseller-web")
    paths = [e.path for e in profile.probed]
    assert set(documented) <= set(paths), set(documented) - set(paths)
    assert "/api/system/diagnostics" in paths
    assert profile.endpoint("/api/system/health/detailed").expect_status == [404]


def test_every_reason_has_words_in_both_languages():
    en = {k for k in catalogue("en") if k.startswith("health.")}
    es = {k for k in catalogue("es") if k.startswith("health.")}
    assert en == es
    for name in builtin_profiles():
        profile = load_profile(name)
        rules = [*profile.rules, *(r for e in profile.endpoints for r in e.rules)]
        assert {r.reason for r in rules} <= reason_codes()


def write(tmp_path, body: str) -> str:
    path = tmp_path / "mine.toml"
    path.write_text(body)
    return str(path)


GOOD = """
name = "mine"
[[endpoints]]
path = "/healthz"
role = "liveness"
shape = { ok = "bool" }
"""


def test_a_users_own_profile_file_relative_to_the_services_file(tmp_path):
    write(tmp_path, GOOD)
    profile = load_profile("mine.toml", tmp_path)
    assert profile.name == "mine" and profile.endpoints[0].path == "/healthz"
    services = parse_services('[[services]]\nname = "api"\nurl = "http://x"\nprofile = "mine.toml"\n')
    check_profiles(replace(services, path=tmp_path / "chatops.toml"))


@pytest.mark.parametrize(("body", "words"), [
    ("name = 'x'\n[[endpoints]\n", "not valid TOML"),
    (GOOD.replace('"bool"', '"boolean"'), "unknown type 'boolean'"),
    (GOOD + "[[endpoints.rules]]\nstatus = [503]\nverdict = 'down'\nreason = 'gremlins'\n",
     "unknown reason 'gremlins'"),
    (GOOD.replace('role = "liveness"', 'role = "readiness"'), "at least one liveness endpoint"),
    (GOOD.replace('path = "/healthz"', 'path = "/healthz"\nreplaced_by = "/nope"'), "replaced_by '/nope'"),
    (GOOD.replace('path = "/healthz"', 'path = "healthz"'), "endpoints[0].path"),
    (GOOD + "[[endpoints.rules]]\nfield = 'db'\nverdict = 'down'\nreason = 'not_ready'\n", "needs equals or not_in"),
])
def test_bad_profiles_are_named_precisely(tmp_path, body, words):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert words in str(info.value) and path in str(info.value)


def test_unknown_names_and_missing_files():
    with pytest.raises(ConfigError, match="built-in profiles are ivan-reseller-web, runbook"):
        load_profile("nginx")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_profile("/nonexistent/profile.toml")
    services = parse_services('[[services]]\nname = "api"\nurl = "http://x"\nprofile = "nginx"\n')
    with pytest.raises(ConfigError, match="service 'api'"):
        check_profiles(services)
