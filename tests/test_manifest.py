"""manifest.yml against Slack's official manifest JSON Schemas (../shared/slack/manifest-schema/)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from bot.slack.scopes import REQUIRED_SCOPES
from tests.shared import shared_path

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"
COMMANDS = {"/health", "/rollback", "/diagnose", "/incident", "/logs", "/db"}
NEWER_SCOPES = {
    # "files.getUploadURLExternal … Scopes: Bot token: files:write" (and files.completeUploadExternal)
    "files:write": "https://docs.slack.dev/reference/methods/files.getUploadURLExternal",
}
BOT_SCOPES = set(REQUIRED_SCOPES)  # the manifest asks for exactly what the features (and doctor) need
SCHEMA_FILES = ["manifest.schema.json", "manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json"]


def _manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def _external_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        refs = {node["$ref"]} if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#") else set()
        return refs.union(*(_external_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_external_refs(v) for v in node))
    return set()


def _validator(name: str) -> jsonschema.Draft7Validator:
    """A validator for one schema file; its remote $refs (Slack's published URLs) resolve to the
    sibling files of the same name, so nothing is fetched."""
    folder = shared_path("slack/manifest-schema")
    schema = json.loads((folder / name).read_text(encoding="utf-8"))
    registry: Registry = Registry()
    for ref in _external_refs(schema):
        local = folder / ref.rsplit("/", 1)[-1]
        assert local.exists(), f"{name} refers to {ref}, which has no local copy in {folder}"
        contents = json.loads(local.read_text(encoding="utf-8"))
        registry = registry.with_resource(ref, Resource.from_contents(contents, default_specification=DRAFT7))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, registry=registry)


@pytest.mark.shared
def test_every_manifest_schema_is_covered():
    folder = shared_path("slack/manifest-schema")
    present = {p.name for p in folder.glob("*.json") if "Manifest" in json.loads(p.read_text())["title"]}
    assert present == set(SCHEMA_FILES)


@pytest.mark.shared
@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_manifest_is_valid(name):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(name).iter_errors(_manifest())]
    assert errors == []


@pytest.mark.shared
@pytest.mark.parametrize("name", SCHEMA_FILES)
@pytest.mark.parametrize("breakage", ["command without description", "command without slash", "unknown key"])
def test_validator_catches_a_broken_manifest(name, breakage):
    broken = copy.deepcopy(_manifest())
    command = broken["features"]["slash_commands"][0]
    if breakage == "command without description":
        del command["description"]
    elif breakage == "command without slash":
        command["command"] = "health"
    else:
        broken["settings"]["interactivity"]["requestUrl"] = command["url"]
    assert not _validator(name).is_valid(broken)


def test_commands_scopes_and_urls():
    manifest = _manifest()
    commands = manifest["features"]["slash_commands"]
    assert {c["command"] for c in commands} == COMMANDS
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    settings = manifest["settings"]
    assert settings["interactivity"] == {"is_enabled": True, "request_url": commands[0]["url"]}
    assert {c["url"] for c in commands} == {settings["interactivity"]["request_url"]}
    assert commands[0]["url"].endswith("/slack/events")
    assert all(c["description"] and c["usage_hint"] for c in commands)
    # Only /incident names people (lead, page): with escaping on, Slack sends mentions as <@U…> ids.
    assert {c["command"] for c in commands if c["should_escape"]} == {"/incident"}
    assert settings["socket_mode_enabled"] is False
    assert manifest["features"]["bot_user"] == {"display_name": "chatops", "always_online": True}


@pytest.mark.shared
def test_every_bot_scope_is_a_documented_slack_scope():
    """The schema takes any string as a scope, so check each against Slack's documentation we hold:
    the platform notes (granular bot scopes) and the Web API spec's per-method scopes."""
    notes = shared_path("reference/slack-platform.md").read_text(encoding="utf-8")
    spec = json.loads(shared_path("slack/web-api-openapi.json").read_text(encoding="utf-8"))
    documented = set(re.findall(r"`([a-z]+(?::[a-z.]+)+|commands)`", notes))
    for path in spec["paths"].values():
        for operation in path.values():
            for requirement in operation.get("security", []):
                documented.update(*requirement.values())
    # Granular scopes newer than the 2020 spec we hold, each with the page that documents it.
    documented |= set(NEWER_SCOPES)
    assert set(_manifest()["oauth_config"]["scopes"]["bot"]) <= documented
