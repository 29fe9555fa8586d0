"""Every word the bot shows exists in English and Spanish, with the same variables, and only in the catalogue."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jinja2
import pytest
from jinja2 import meta

from bot.i18n import LANGUAGES, _environment, catalogue, t

ROOT = Path(__file__).resolve().parents[1]
USER_FACING_DIRS = ["handlers", "playbooks", "bot/render", "bot/cli", "bot/slack", "bot/changes", "bot/incidents",
                    "bot/alerts", "bot/status"]
USER_FACING_FILES = ["sandbox/demo.py", "sandbox/cli.py"]
TALKING_CALLS = {"print", "ack", "respond", "say", "tell", "post", "update", "ephemeral"}
TALKING_KEYWORDS = {"text", "title", "label", "header"}


def _variables(source: str) -> set[str]:
    return meta.find_undeclared_variables(_environment().parse(source)) - {"lang", "duration", "slack_date",
                                                                             "plain_date"}


def test_both_catalogues_have_the_same_keys():
    en, es = catalogue("en"), catalogue("es")
    assert sorted(set(en) - set(es)) == [], "missing in Spanish"
    assert sorted(set(es) - set(en)) == [], "missing in English"


@pytest.mark.parametrize("key", sorted(catalogue("en")))
def test_each_message_uses_the_same_variables_in_both_languages(key):
    assert _variables(catalogue("en")[key]) == _variables(catalogue("es")[key])


def test_each_message_compiles_in_both_languages():
    for lang in LANGUAGES:
        for key, source in catalogue(lang).items():
            try:
                _environment().from_string(source)
            except jinja2.TemplateSyntaxError as exc:  # pragma: no cover - the message says which
                pytest.fail(f"{lang}:{key}: {exc}")


def test_whole_templates_exist_in_both_languages_with_the_same_variables():
    folders = {lang: ROOT / "bot" / "i18n" / "templates" / lang for lang in LANGUAGES}
    names = {lang: sorted(p.name for p in folder.glob("*.j2")) for lang, folder in folders.items()}
    assert names["en"] == names["es"] and names["en"]
    for name in names["en"]:
        en, es = ((folders[lang] / name).read_text(encoding="utf-8") for lang in ("en", "es"))
        assert _variables(en) == _variables(es), name


def test_a_missing_key_is_an_error_not_a_silent_fallback():
    with pytest.raises(KeyError):
        t("common.no_such_message", "es")


def test_spanish_is_spanish():
    assert t("common.busy", "es") != t("common.busy", "en")
    assert "Estoy ocupado" in t("common.busy", "es")


def _talking_literals(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        candidates = []
        if name in TALKING_CALLS:
            candidates += node.args
        candidates += [kw.value for kw in node.keywords if kw.arg in TALKING_KEYWORDS]
        for value in candidates:
            parts = value.values if isinstance(value, ast.JoinedStr) else [value]
            for part in parts:
                if isinstance(part, ast.Constant) and isinstance(part.value, str) and " " in part.value.strip() \
                        and any(c.isalpha() for c in part.value):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {part.value!r}")
    return found


def test_no_user_facing_text_outside_the_catalogue():
    files = [p for d in USER_FACING_DIRS for p in (ROOT / d).rglob("*.py")]
    files += [ROOT / f for f in USER_FACING_FILES if (ROOT / f).exists()]
    literals = [hit for path in files for hit in _talking_literals(path)]
    assert literals == []


def test_the_literal_check_can_fail(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('async def h(ack, respond):\n    await ack(text="Checking the service now")\n'
                      '    await respond(f"Done with {1} things")\n    await ack(text=t("common.busy"))\n')
    hits = _talking_literals(sample, tmp_path)
    assert len(hits) == 2 and "Checking the service now" in hits[0] and "Done with " in hits[1]


# Slack reads ``<…>`` as a link, a mention or a command, even inside backticks: a placeholder such as
# ``<service>`` vanishes or turns into a broken link. The only ``<`` a message may hold opens an entity
# the bot builds itself from an id: a user, a channel, a user group or a date.
_BOT_ENTITY = re.compile(r"<(?:@\{\{|#\{\{|!subteam\^\{\{|!date\^)")


def _stray_angles(text: str) -> list[str]:
    return [text[max(0, m.start() - 15):m.start() + 25] for m in re.finditer("<", text)
            if not _BOT_ENTITY.match(text, m.start())]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_angle_bracket_placeholders_in_the_catalogue(lang):
    stray = {key: _stray_angles(value) for key, value in catalogue(lang).items() if _stray_angles(value)}
    assert stray == {}


_MARKUP_TEMPLATES = (".html.j2", ".atom.j2")  # the demo transcript and the status page: HTML and Atom, not Slack


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_angle_bracket_placeholders_in_the_slack_templates(lang):
    folder = Path(__file__).resolve().parents[1] / "bot" / "i18n" / "templates" / lang
    stray = {p.name: _stray_angles(p.read_text(encoding="utf-8")) for p in folder.glob("*.j2")
             if not p.name.endswith(_MARKUP_TEMPLATES)}
    assert {name: found for name, found in stray.items() if found} == {}


def test_the_placeholder_check_can_fail():
    assert len(_stray_angles("Usage: `/rollback <service>` or <https://x|y>")) == 2
    assert _stray_angles("asked by <@{{ user }}> in <#{{ channel }}> at <!date^{{ ts }}^x|y>") == []
