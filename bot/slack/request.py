"""What a handler needs to know about one Slack request, read from its payload without I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_COMMAND_TEXT = 2000


@dataclass(frozen=True)
class RequestInfo:
    kind: str  # command | action | other
    name: str  # "/health" or an action id
    team_id: str | None
    user_id: str | None
    channel_id: str | None
    arguments: str
    trigger_id: str | None
    response_url: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> RequestInfo:
        if "command" in body:
            return cls(
                kind="command", name=str(body.get("command", "")), team_id=body.get("team_id"),
                user_id=body.get("user_id"), channel_id=body.get("channel_id"),
                arguments=str(body.get("text", "")), trigger_id=body.get("trigger_id"),
                response_url=body.get("response_url"),
            )
        if body.get("type") == "block_actions":
            actions = body.get("actions") or [{}]
            action = actions[0] if isinstance(actions[0], dict) else {}
            channel = body.get("channel") or body.get("container") or {}
            return cls(
                kind="action", name=str(action.get("action_id", "")),
                team_id=(body.get("team") or {}).get("id"), user_id=(body.get("user") or {}).get("id"),
                channel_id=channel.get("id") or channel.get("channel_id"),
                arguments=json.dumps({"value": action.get("value")}, ensure_ascii=False),
                trigger_id=body.get("trigger_id"), response_url=body.get("response_url"),
            )
        return cls(kind="other", name=str(body.get("type", "unknown")), team_id=None, user_id=None,
                   channel_id=None, arguments="", trigger_id=None, response_url=None)
