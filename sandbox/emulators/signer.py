"""Build requests exactly as Slack sends them, signed with the app's signing secret.

Slash commands are form-encoded with every field Slack includes; button clicks are a form with one
``payload`` field holding the ``block_actions`` JSON (slack-platform.md §2–3). The signature is
``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` keyed with the secret as UTF-8 text.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
# The deprecated verification token Slack still puts in every payload; apps must ignore it.
VERIFICATION_TOKEN = "EmulatorVerification0000"


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


def slack_escape_command_text(text: str) -> str:
    """What Slack does to what a person typed after a slash command before sending it: ``&``, ``<`` and
    ``>`` become ``&amp;``, ``&lt;`` and ``&gt;`` (docs.slack.dev, "Formatting text for app surfaces",
    Escaping text: "Slack will send you text with these characters escaped")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class SlackRequestSigner:
    def __init__(self, signing_secret: str, *, team_id: str = "T0EMULATOR", team_domain: str = "emulator",
                 api_app_id: str = "A0CHATOPS") -> None:
        self._secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self._triggers = itertools.count(random.randrange(10**11, 9 * 10**11))

    def __repr__(self) -> str:  # never show the secret
        return f"SlackRequestSigner(team_id={self.team_id!r}, api_app_id={self.api_app_id!r})"

    def sign(self, body: bytes, timestamp: int | None = None, content_type: str = FORM_CONTENT_TYPE) -> dict[str, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature(self._secret, ts, body),
        }

    def ssl_check(self, timestamp: int | None = None) -> SignedRequest:
        """The request Slack sends a command's URL to check its certificate (``ssl_check=1``); the app
        must answer 200 (slack-platform.md §2; Bolt's SslCheck middleware does)."""
        body = urlencode({"ssl_check": "1", "token": VERIFICATION_TOKEN}).encode()
        return SignedRequest(body, self.sign(body, timestamp))

    @staticmethod
    def retried(req: SignedRequest, number: int, reason: str = "http_timeout") -> SignedRequest:
        """The same delivery again, as Slack retries an Events API delivery that got no 2xx in 3 s:
        ``X-Slack-Retry-Num`` 1–3 and ``X-Slack-Retry-Reason`` (docs.slack.dev, Events API, "Retries")."""
        if not 1 <= number <= 3:
            raise ValueError("Slack retries a delivery at most 3 times")
        return SignedRequest(req.body, {**req.headers, "X-Slack-Retry-Num": str(number),
                                        "X-Slack-Retry-Reason": reason})

    def new_trigger_id(self) -> str:
        """Unique, shaped like Slack's (``398738663015.47445629121.803a0bc8…``)."""
        return f"{next(self._triggers)}.{random.randrange(10**10, 10**11)}.{secrets.token_hex(16)}"

    def slash_command(self, command: str, text: str = "", *, user_id: str, user_name: str | None = None,
                      channel_id: str = "C0GENERAL", channel_name: str = "general", response_url: str,
                      trigger_id: str | None = None, timestamp: int | None = None) -> SignedRequest:
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": slack_escape_command_text(text),
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or self.new_trigger_id(),
        }
        body = urlencode(fields).encode()
        return SignedRequest(body, self.sign(body, timestamp))

    def block_actions(self, action_id: str, value: str, *, user_id: str, user_name: str | None = None,
                      channel_id: str, channel_name: str = "general", message_ts: str, response_url: str,
                      block_id: str | None = None, message: dict | None = None, trigger_id: str | None = None,
                      timestamp: int | None = None) -> SignedRequest:
        """A button click. With ``message`` (the stored source message), the button's text, style and
        block_id are taken from its blocks, as Slack does."""
        source = dict(message) if message else {"type": "message", "text": ""}
        source.setdefault("ts", message_ts)
        button_block_id, button = _find_button(source.get("blocks") or [], action_id)
        action: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "block_id": block_id or button_block_id or "b1",
            "text": button.get("text") or {"type": "plain_text", "text": action_id, "emoji": True},
            "value": value,
            "action_ts": f"{time.time():.6f}",
        }
        if "style" in button:
            action["style"] = button["style"]
        name = user_name or user_id.lower()
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": name, "name": name, "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                          "is_ephemeral": False},
            "trigger_id": trigger_id or self.new_trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": channel_name},
            "message": source,
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return SignedRequest(body, self.sign(body, timestamp))

    def view_submission(self, view: dict, values: dict[str, dict[str, str]], *, user_id: str,
                        user_name: str | None = None, trigger_id: str | None = None,
                        timestamp: int | None = None) -> SignedRequest:
        """A modal's Submit: the view as Slack holds it (from views.open), with what the person typed in
        ``values`` ({block_id: {action_id: text}}); a form with one ``payload`` field, like a click."""
        name = user_name or user_id.lower()
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {"id": user_id, "username": name, "name": name, "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id or self.new_trigger_id(),
            "view": {**view, "state": _view_state(view, values)},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return SignedRequest(body, self.sign(body, timestamp))


    def event_callback(self, event: dict[str, Any], *, timestamp: int | None = None) -> SignedRequest:
        """An Events API delivery: a JSON body (``type: event_callback``) around ``event``."""
        now = int(time.time())
        body_fields = {
            "token": VERIFICATION_TOKEN, "team_id": self.team_id, "api_app_id": self.api_app_id,
            "event": event, "type": "event_callback", "event_id": f"Ev{secrets.token_hex(5).upper()}",
            "event_time": now, "authorizations": [{"enterprise_id": None, "team_id": self.team_id,
                                                    "user_id": "U0BOT", "is_bot": True,
                                                    "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }
        body = json.dumps(body_fields, separators=(",", ":")).encode()
        return SignedRequest(body, self.sign(body, timestamp, JSON_CONTENT_TYPE))

    def app_home_opened(self, user_id: str, *, view: dict | None = None, tab: str = "home",
                        timestamp: int | None = None) -> SignedRequest:
        """The event Slack sends when a person opens the app's Home tab (``view`` once one was published)."""
        event: dict[str, Any] = {"type": "app_home_opened", "user": user_id, "channel": "D" + user_id[1:],
                                 "tab": tab, "event_ts": f"{time.time():.6f}"}
        if view is not None:
            event["view"] = view
        return self.event_callback(event, timestamp=timestamp)

    def url_verification(self, challenge: str, *, timestamp: int | None = None) -> SignedRequest:
        """The handshake Slack sends when the Events API request URL is saved."""
        body = json.dumps({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}).encode()
        return SignedRequest(body, self.sign(body, timestamp, JSON_CONTENT_TYPE))

    def home_action(self, action_id: str, value: str, *, user_id: str, view: dict,
                    trigger_id: str | None = None, timestamp: int | None = None) -> SignedRequest:
        """A button click in the Home tab: ``block_actions`` with a ``view`` container and no
        ``channel``, ``message`` or ``response_url`` (Slack sends none for views)."""
        block_id, button = _find_button(view.get("blocks") or [], action_id, value)
        action: dict[str, Any] = {
            "type": "button", "action_id": action_id, "block_id": block_id or "b1",
            "text": button.get("text") or {"type": "plain_text", "text": action_id, "emoji": True},
            "value": value, "action_ts": f"{time.time():.6f}",
        }
        if "style" in button:
            action["style"] = button["style"]
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": self.team_id},
            "api_app_id": self.api_app_id, "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view.get("id", "V0")},
            "trigger_id": trigger_id or self.new_trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain}, "enterprise": None,
            "is_enterprise_install": False, "view": view, "actions": [action],
        }
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return SignedRequest(body, self.sign(body, timestamp))


def _view_state(view: dict, values: dict[str, dict[str, str]]) -> dict:
    """``state.values`` as Slack sends it: each input block's element, typed by the element's type."""
    state: dict[str, dict] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        block_id, action_id = block.get("block_id"), element.get("action_id")
        typed = values.get(block_id, {}).get(action_id)
        state[block_id] = {action_id: {"type": element.get("type"), "value": typed}}
    return {"values": state}


def _find_button(blocks: list, action_id: str, value: str | None = None) -> tuple[str | None, dict]:
    for block in blocks:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or []) + ([block["accessory"]] if "accessory" in block else [])
        for element in elements:
            if (isinstance(element, dict) and element.get("action_id") == action_id
                    and (value is None or element.get("value") == value)):
                return block.get("block_id"), element
    return None, {}


async def post(http: httpx.AsyncClient, url: str, req: SignedRequest) -> httpx.Response:
    """Send a signed request the way Slack does (raw body, signature headers)."""
    return await http.post(url, content=req.body, headers=req.headers)
