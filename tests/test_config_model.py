"""bot/config/model.py: the records behind the settings, the services file and the profiles refuse what pydantic
refused, in its words (the sentences below are pydantic 2's, recorded before the switch), and convert what it
converted."""

from __future__ import annotations

import pytest

from bot.common.errors import ConfigError
from bot.config.model import Invalid
from bot.config.services import ServiceConfig, parse_services
from bot.config.settings import load_settings
from bot.probe.profiles import Endpoint, parse_profile

SERVICE = '[[services]]\nname = "api"\nurl = "http://a"\n'


@pytest.mark.parametrize(("text", "expected"), [
    ("[monitor]\ninterval_seconds = 0", "monitor.interval_seconds: Input should be greater than 0"),
    ("[monitor]\nlease_seconds = 61", "monitor.lease_seconds: Input should be less than or equal to 60"),
    ("[monitor]\nfailures_to_open = 0", "monitor.failures_to_open: Input should be greater than or equal to 1"),
    ("[monitor]\nfailures_to_open = 1.5",
     "monitor.failures_to_open: Input should be a valid integer, got a number with a fractional part"),
    ('[monitor]\nfailures_to_open = "x"',
     "monitor.failures_to_open: Input should be a valid integer, unable to parse string as an integer"),
    ('[monitor]\ninterval_seconds = "x"',
     "monitor.interval_seconds: Input should be a valid number, unable to parse string as a number"),
    ('[monitor]\nenabled = "maybe"', "monitor.enabled: Input should be a valid boolean, unable to interpret input"),
    ("[monitor]\nenabled = 1.5", "monitor.enabled: Input should be a valid boolean"),
    ('[status_page]\ntitle = ""', "status_page.title: String should have at least 1 character"),
    (f'[status_page]\ntitle = "{"x" * 121}"', "status_page.title: String should have at most 120 characters"),
    ("[status_page]\ntitle = 5", "status_page.title: Input should be a valid string"),
    ('[i18n]\nlanguage = "fr"', "i18n.language: Input should be 'en' or 'es'"),
    ('[i18n]\nchannels = {C1 = "fr"}', "i18n.channels.C1: Input should be 'en' or 'es'"),
    ("[i18n]\nchannels = 5", "i18n.channels: Input should be a valid dictionary"),
    ('[incidents]\noncall = "U1"', "incidents.oncall: Input should be a valid list"),
    ("approvals = 5", "approvals: Input should be a valid dictionary or instance of Approvals"),
    ('[[services]]\nname = "bad name"\nurl = "http://a"',
     "services[0].name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'"),
    # The whole value must match: a newline after an identifier would reach the DELETE statement.
    (SERVICE + '[services.cleanup.logs]\ntable = "logs\\n"\ncolumn = "at"',
     "services[0].cleanup.logs.table: String should match pattern '^[A-Za-z_][A-Za-z0-9_]{0,62}$'"),
    ("[[services]]\nname = 5", "services[0].name: Input should be a valid string"),  # fields in order: before url
    ('[status_page]\nservices = {nope = "Nope"}',
     "file: Value error, status_page.services: 'nope' is not a service in [[services]]"),
])
def test_a_services_file_mistake_is_worded_as_before(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_services(text, "f.toml")
    assert str(err.value) == f"f.toml: {expected}"


def test_what_pydantic_converted_is_converted():
    cfg = parse_services(SERVICE + "[monitor]\nfailures_to_open = 3.0\nenabled = \"yes\"\n"
                         "[services.cleanup]\npause_seconds = 1\n[unknown]\nkey = 1\n")
    assert cfg.monitor.failures_to_open == 3 and isinstance(cfg.monitor.failures_to_open, int)
    assert cfg.monitor.enabled is True
    assert cfg.services[0].cleanup.pause_seconds == 1.0 and isinstance(cfg.services[0].cleanup.pause_seconds, float)
    assert not hasattr(cfg, "unknown")  # an unknown top-level table is ignored, as before


def test_building_a_record_checks_it_too():
    assert ServiceConfig(name="api", url="http://a.example/").url == "http://a.example"
    with pytest.raises(Invalid) as err:
        Endpoint(path="no slash", role="liveness")
    assert (err.value.loc, err.value.msg) == (("path",), "String should match pattern '^/[A-Za-z0-9._~/-]*$'")


def test_an_alias_is_read_and_a_profile_needs_an_endpoint():
    endpoint = parse_profile('name = "p"\n[[endpoints]]\npath = "/"\nrole = "liveness"\njson = false\n', "p.toml")
    assert endpoint.endpoints[0].json_body is False
    with pytest.raises(ConfigError) as err:
        parse_profile('name = "p"\nendpoints = []\n', "p.toml")
    assert str(err.value) == "p.toml: endpoints: List should have at least 1 item after validation, not 0"


def test_settings_from_strings_and_which_were_given(monkeypatch):
    for name in ("PORT", "CHATOPS_CHARTS", "CHATOPS_WORKERS", "CHATOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(None, PORT=" 8080 ", CHATOPS_CHARTS="off", CHATOPS_WORKERS="3.0")
    assert (settings.PORT, settings.CHATOPS_CHARTS, settings.CHATOPS_WORKERS) == (8080, False, 3)
    assert "PORT" in settings.fields_set and "CHATOPS_CONFIG" not in settings.fields_set
    with pytest.raises(ConfigError, match="CHATOPS_WORKERS is malformed"):
        load_settings(None, CHATOPS_WORKERS="201")
