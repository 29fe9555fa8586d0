"""What a handler needs to know about one Slack request, read from its payload without I/O.

This is where a request's fields enter the bot, so they are checked here: every id has Slack's
shape (ASCII letters and digits, at most 32 characters: what the audit log's columns hold), every
field has the type Slack sends. A signed body that breaks these rules did not come from Slack as
documented; it is refused (``InvalidRequest``) instead of reaching a handler or poisoning the audit log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.common.errors import UsageError
from bot.i18n import slack_unescape, t

MAX_COMMAND_TEXT = 2000
MAX_ID = 32  # audit_log.team_id / user_id / channel_id
MAX_TRIGGER_ID = 128  # audit_log.trigger_id, seen_requests.trigger_id
MAX_NAME = 255  # audit_log.name; Slack's action_id limit
MAX_RESPONSE_URL = 2048

_ID = re.compile(rf"[A-Za-z0-9]{{1,{MAX_ID}}}")
_TRIGGER_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_TRIGGER_ID}}}")
_COMMAND = re.compile(r"/[^\s/]{1,63}")


class InvalidRequest(ValueError):
    """A signed request whose shape is wrong: ``key`` names the catalogue sentence, ``field`` the culprit."""

    def __init__(self, key: str, field: str) -> None:
        super().__init__(f"{key}: {field}")
        self.key = key
        self.field = field

Tell = Callable[[str], Awaitable[None]]  # an ephemeral sentence to the person who acted


def command_text(command: dict[str, Any], lang: str) -> str:
    """The command's text as the person typed it (unescaped once, here, on the way in), stripped;
    UsageError when it is longer than any command needs. Renderers escape it again for Slack."""
    text = slack_unescape(command.get("text") or "").strip()
    if len(text) > MAX_COMMAND_TEXT:
        raise UsageError(t("common.too_long", lang, length=len(text), limit=MAX_COMMAND_TEXT))
    return text


def ephemeral(respond) -> Tell:
    """Tell only the person who acted, without touching the message they acted on."""
    async def tell(text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    return tell


@dataclass(frozen=True)
class RequestInfo:
    kind: str  # command | action | event | view | other
    name: str  # "/health" or an action id
    team_id: str | None
    user_id: str | None
    channel_id: str | None
    arguments: str
    trigger_id: str | None
    response_url: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> RequestInfo:
        """Raises InvalidRequest when a slash command or a block_actions payload is malformed."""
        if "command" in body:
            command = body.get("command")
            if not isinstance(command, str) or not _COMMAND.fullmatch(command):
                raise InvalidRequest("bad_field", "command")
            return cls(
                kind="command", name=command, team_id=_id(body, "team_id"),
                user_id=_id(body, "user_id", required=True), channel_id=_id(body, "channel_id"),
                arguments=slack_unescape(_text(body, "text")), trigger_id=_trigger_id(body.get("trigger_id")),
                response_url=_response_url(body.get("response_url")),
            )
        if body.get("type") == "block_actions":
            action = _first_action(body.get("actions"))
            channel = _object(body, "channel") or _object(body, "container")
            channel_id = channel.get("id") if "id" in channel else channel.get("channel_id")
            return cls(
                kind="action", name=action["action_id"], team_id=_id(_object(body, "team"), "id", "team.id"),
                user_id=_id(_object(body, "user"), "id", "user.id", required=True),
                channel_id=_id({"id": channel_id}, "id", "channel.id"),
                arguments=json.dumps({"value": action.get("value")}, ensure_ascii=False),
                trigger_id=_trigger_id(body.get("trigger_id")),
                response_url=_response_url(body.get("response_url")),
            )
        if body.get("type") == "event_callback":
            event = _object(body, "event")
            kind = event.get("type")
            if not isinstance(kind, str) or not 0 < len(kind) <= MAX_NAME:
                raise InvalidRequest("bad_field", "event.type")
            return cls(kind="event", name=kind, team_id=_id(body, "team_id"),
                       user_id=_id(event, "user", "event.user"), channel_id=_id(event, "channel", "event.channel"),
                       arguments=json.dumps({"tab": event.get("tab")}), trigger_id=None, response_url=None)
        if body.get("type") == "view_submission":  # a modal's Submit: named by the view's callback_id
            view = _object(body, "view")
            callback = view.get("callback_id")
            if not isinstance(callback, str) or not 0 < len(callback) <= MAX_NAME:
                raise InvalidRequest("bad_field", "view.callback_id")
            return cls(
                kind="view", name=callback, team_id=_id(_object(body, "team"), "id", "team.id"),
                user_id=_id(_object(body, "user"), "id", "user.id", required=True), channel_id=None,
                arguments="", trigger_id=_trigger_id(body.get("trigger_id")), response_url=None,
            )
        return cls(kind="other", name=str(body.get("type", "unknown"))[:MAX_NAME], team_id=None, user_id=None,
                   channel_id=None, arguments="", trigger_id=None, response_url=None)


def _id(body: dict[str, Any], key: str, field: str | None = None, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidRequest("bad_field", field or key)
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise InvalidRequest("bad_field", key)
    return value


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("bad_field", key)
    return value


def _first_action(actions: Any) -> dict[str, Any]:
    """Slack sends ``actions`` as a non-empty list of objects, each with a string ``action_id``."""
    if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
        raise InvalidRequest("bad_field", "actions")
    action_id = actions[0].get("action_id")
    if not isinstance(action_id, str) or not 0 < len(action_id) <= MAX_NAME:
        raise InvalidRequest("bad_field", "actions[0].action_id")
    return actions[0]


def _trigger_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _TRIGGER_ID.fullmatch(value):
        raise InvalidRequest("bad_field", "trigger_id")
    return value


def _response_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_RESPONSE_URL or not value.startswith(("https://", "http://")):
        raise InvalidRequest("bad_field", "response_url")
    return value
