"""What /health may probe: configured services only from Slack (no SSRF), any URL from the terminal."""

from __future__ import annotations

import pytest

from bot.config.services import parse_services
from bot.probe import AdHocService, TargetError, resolve_targets

SERVICES = parse_services("""
[[services]]
name = "backend"
url = "https://api.example.com"
profile = "ivan-reseller-web"

[[services]]
name = "local"
url = "http://localhost:4000"
""")


def refused(arg: str, **kw) -> TargetError:
    with pytest.raises(TargetError) as info:
        resolve_targets(arg, SERVICES, allow_any_url=kw.pop("allow_any_url", False), **kw)
    return info.value


def test_no_argument_means_every_service():
    pairs = resolve_targets("", SERVICES, allow_any_url=False)
    assert [(s.name, p) for s, p in pairs] == [("backend", None), ("local", None)]
    assert resolve_targets("  * ", SERVICES, allow_any_url=False) == pairs


def test_no_services_configured():
    with pytest.raises(TargetError) as info:
        resolve_targets("", parse_services(""), allow_any_url=False)
    assert "No services are configured" in str(info.value)


def test_service_by_name():
    [(svc, path)] = resolve_targets("backend", SERVICES, allow_any_url=False)
    assert (svc.name, svc.profile, path) == ("backend", "ivan-reseller-web", None)


def test_unknown_service_lists_the_known_ones_in_both_languages():
    err = refused("frontend")
    assert err.key == "common.unknown_service"
    assert "frontend" in str(err) and "backend, local" in str(err)
    assert "Servicios conocidos: backend, local" in err.message("es")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://localhost/health",
                                 "http://localhost:5000/health", "https://evil.example.net/health",
                                 "http://api.example.com:8080/health",
                                 "https://api.example.com@169.254.169.254/"])
def test_url_of_no_configured_service_is_refused_from_slack(url):
    err = refused(url)
    assert err.key in ("health.error.refused_url", "health.error.malformed")
    if err.key == "health.error.refused_url":
        assert "backend, local" in str(err) and "only probe configured services" in str(err)


def test_metadata_address_is_refused_and_named():
    err = refused("http://169.254.169.254/latest/meta-data/")
    assert err.key == "health.error.refused_url" and err.params["host"] == "169.254.169.254"
    assert "169.254.169.254" in err.message("es") and "Solo reviso servicios configurados" in err.message("es")


def test_url_of_a_configured_service_uses_the_service_base_and_keeps_the_path():
    [(svc, path)] = resolve_targets("https://API.example.com/ready", SERVICES, allow_any_url=False)
    assert (svc.name, path) == ("backend", "/ready")
    [(svc, path)] = resolve_targets("http://localhost:4000", SERVICES, allow_any_url=False)
    assert (svc.name, path) == ("local", None)


def test_slack_wrapped_links_are_unwrapped():
    [(svc, path)] = resolve_targets("<https://api.example.com/health|api.example.com/health>", SERVICES,
                                    allow_any_url=False)
    assert (svc.name, path) == ("backend", "/health")


@pytest.mark.parametrize("arg", [";rm -rf /", "backend; rm -rf /", "$(reboot)", "../../etc/passwd",
                                 "file:///etc/passwd", "gopher://localhost:6379/_FLUSHALL",
                                 "https://api.example.com/health?x=1", "http://[::1", "http://",
                                 "https://api.example.com/a b", "x" * 400])
def test_malformed_arguments(arg):
    err = refused(arg, allow_any_url=True)
    assert err.key == "health.error.malformed"
    assert len(str(err)) < 300


def test_malformed_message_is_escaped_for_slack_and_never_shows_a_password():
    err = refused("<https://ops:hunter2pass@api.example.com/>")
    assert err.key == "health.error.malformed" and "hunter2pass" not in str(err)
    err = refused("<!channel>&boom")
    assert "&lt;!channel&gt;&amp;boom" in err.message("en") and "<!channel>" not in err.message("en")
    assert "<!channel>" in err.message("en", slack=False)


def test_terminal_may_probe_any_url_with_the_chosen_profile():
    [(svc, path)] = resolve_targets("http://169.254.169.254:8080/health", SERVICES, allow_any_url=True,
                                    profile="ivan-reseller-web")
    assert isinstance(svc, AdHocService) and not svc.configured
    assert (svc.name, svc.url, svc.profile, path) == ("169.254.169.254", "http://169.254.169.254:8080",
                                                      "ivan-reseller-web", "/health")
    [(svc, _)] = resolve_targets("https://api.example.com/", SERVICES, allow_any_url=True)
    assert svc.name == "backend"
