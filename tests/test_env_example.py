""".env.example against the Settings class: every variable once, none extra, each with a line of meaning, and
the defaults it shows are the defaults the bot uses."""

from __future__ import annotations

import re
from dataclasses import MISSING, asdict, fields
from pathlib import Path

from bot.config.settings import Settings, load_settings, system_language

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
ENTRY = re.compile(r"^# ?([A-Z][A-Z0-9_]*)=(.*)$")


def _entries() -> list[tuple[str, str, str]]:
    """(name, value shown, the comment line just above it) for each commented ``# NAME=value`` line."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        match = ENTRY.match(line)
        if match:
            above = lines[i - 1] if i else ""
            found.append((match[1], match[2], "" if ENTRY.match(above) else above.lstrip("# ").strip()))
    return found


def test_every_setting_appears_once_and_nothing_else():
    names = [name for name, _, _ in _entries()]
    assert sorted(names) == sorted(set(names)), "a variable appears twice"
    assert set(names) == {f.name for f in fields(Settings)}


def test_each_variable_has_a_line_of_meaning():
    assert [name for name, _, meaning in _entries() if len(meaning) < 10] == []


def test_the_example_is_inert_until_a_line_is_uncommented():
    assert all(line.startswith("#") or not line.strip() for line in EXAMPLE.read_text(encoding="utf-8").splitlines())


def test_the_defaults_shown_are_the_defaults(monkeypatch, tmp_path):
    for f in fields(Settings):
        monkeypatch.delenv(f.name, raising=False)
    defaults = load_settings(_env_file=None)
    shown = {name: value for name, value, _ in _entries()}
    for f in fields(Settings):
        if f.default is None or f.default_factory is not MISSING:
            assert shown[f.name] == "", f"{f.name} has no fixed default: the example leaves it empty"
    uncommented = tmp_path / ".env"
    uncommented.write_text("".join(f"{name}={value}\n" for name, value in shown.items() if value), encoding="utf-8")
    from_example = load_settings(_env_file=uncommented)
    assert asdict(from_example) == asdict(defaults)
    assert from_example.CHATOPS_LANGUAGE == system_language()

