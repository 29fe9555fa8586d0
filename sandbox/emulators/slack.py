"""A Slack Web API emulator on 127.0.0.1: what the bot's tests and the demo talk to instead of Slack.

It serves ``/api/<method>`` (GET or POST; query, form or JSON params, as slack_sdk sends them), checks
the bot token, records every call, answers like Slack from an in-memory workspace
(``slack_workspace.SlackWorkspace``: channels exist or not, public, private, archived, DMs, membership),
enforces Block Kit limits (``bot.render.blocks``) and each method's rate-limit tier (HTTP 429 +
``Retry-After``, per method per minute), and can be told to fail a method (``ok: false``), answer it with
an HTTP 5xx, rate-limit it, or
hang before answering (every call, or only calls for one ``channel``); posts to response_urls can fail
(5xx) or hang the same way. It also hands out
``response_url``s (``/commands/…`` and ``/actions/…``: 5 uses, 30 minutes) and records what is posted
to them.

Control API for out-of-process use (the demo): ``GET /_emulator/calls[?method=]``,
``GET /_emulator/messages?channel=``, ``GET /_emulator/responses``, ``POST /_emulator/faults``
(``{"method", "error"}`` or ``{"method", "retry_after"}``, optional ``count`` and ``channel``),
``DELETE /_emulator/faults``, ``POST /_emulator/response_urls`` (``{"kind", "channel", "message_ts"}``).
Tokens are redacted in control API output.

Run standalone: ``python -m sandbox.emulators.slack [--port N] [--config world.json]``; it prints its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from bot.common.redact import redact
from bot.i18n import t
from bot.slack.scopes import REQUIRED_SCOPES
from sandbox.emulators.base import LoopbackServer, serve_until_signalled
from sandbox.emulators.slack_workspace import ApiError, SlackWorkspace

T = TypeVar("T")

DEFAULT_BOT_TOKEN = "xoxb-emulator-token"
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60
# Slack reports the granted scopes in X-OAuth-Scopes; by default the emulated bot has all it needs.
DEFAULT_SCOPES = tuple(REQUIRED_SCOPES)
RESPONSE_KINDS = ("commands", "actions")
RATE_WINDOW = 60.0
# Requests per minute per method (Slack's tiers: 1 = 1+, 2 = 20+, 3 = 50+, 4 = 100+; slack-platform.md §5,
# each method's docs page). chat.postMessage is "special": about one message per second per channel,
# short bursts tolerated, so it is counted per channel.
RATE_TIERS = {
    "apps.connections.open": 1, "auth.test": 100, "chat.postMessage": 60, "chat.postEphemeral": 100,
    "chat.update": 50, "conversations.create": 20, "conversations.info": 50, "conversations.invite": 50,
    "conversations.join": 50, "conversations.open": 50, "pins.add": 20, "users.info": 100,
    "usergroups.users.list": 20, "views.open": 100,
    # Tier 4 ("100+ per minute") for the upload flow and the Home tab, as their reference pages say.
    "files.getUploadURLExternal": 100, "files.completeUploadExternal": 100, "views.publish": 100,
}
# Methods refused without a scope the bot might lack (conversations.open: a DM needs im:write).
METHOD_SCOPES = {"conversations.open": "im:write"}
_RESPONSE_URL = "<response_url>"  # the fault queue for posts to response_urls
_ERROR_PAGE = "<html><body><h1>500 Internal Server Error</h1></body></html>"


@dataclass
class ApiCall:
    """One Web API request as the emulator saw it (``params`` without the token; blocks decoded)."""

    method: str
    token: str | None
    params: dict[str, Any]
    time: float
    http_method: str
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass
class ResponseUrlPost:
    url: str
    kind: str
    payload: dict[str, Any]
    time: float
    status: int
    error: str | None = None


@dataclass
class _Fault:
    error: str = "channel_not_found"
    retry_after: int | None = None
    status: int = 200
    hang: float | None = None  # seconds before answering at all (longer than the client waits)
    channel: str | None = None  # only calls whose ``channel`` param is this one (None: any call)


@dataclass
class _Hook:
    kind: str
    channel: str
    message_ts: str | None
    created: float
    uses: int = 0


class SlackEmulator(LoopbackServer):
    def __init__(self, *, bot_token: str = DEFAULT_BOT_TOKEN, team_id: str = "T0EMULATOR",
                 bot_user_id: str = "U0BOT", users: Mapping[str, Mapping[str, Any]] | None = None,
                 usergroups: Mapping[str, list[str]] | None = None, allow_channel_create: bool = True,
                 channels: Mapping[str, str] | None = None, strict: bool = False,
                 clock: Callable[[], float] = time.time, scopes: tuple[str, ...] = DEFAULT_SCOPES,
                 app_token: str | None = None, rate_limits: bool = True) -> None:
        """``users``: {user_id: {name, real_name, locale, tz, …}}; ``usergroups``: {group_id: [user_id]}
        (their members become users too); ``channels``: see ``SlackWorkspace`` (default {C0GENERAL: general}).
        Unless ``strict``, any user-shaped ID also exists. ``app_token``: the app-level token (``xapp-…``)
        ``apps.connections.open`` accepts. ``rate_limits=False`` turns the tiers off (benchmarks)."""
        self.bot_token = bot_token
        self.team_id = team_id
        self.scopes = tuple(scopes)
        self.app_token = app_token
        self.rate_limits = rate_limits
        self.workspace = SlackWorkspace(team_id=team_id, bot_user_id=bot_user_id, users=users,
                                        usergroups=usergroups, channels=channels, strict=strict,
                                        allow_channel_create=allow_channel_create, clock=clock, scopes=self.scopes)
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self.calls: list[ApiCall] = []
        self.responses: list[ResponseUrlPost] = []
        self._clock = clock
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._hooks: dict[str, _Hook] = {}
        self._hook_ids = itertools.count(1)

    def __repr__(self) -> str:  # never show the token
        return f"SlackEmulator(url={self.url!r}, team_id={self.team_id!r})"

    # --- lifecycle --------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/{kind:commands|actions}/{team}/{hook}/{secret}", self._response_url_post)
        app.router.add_post("/upload/v1/{token}", self._upload)
        app.router.add_get("/_emulator/calls", self._control_calls)
        app.router.add_get("/_emulator/messages", self._control_messages)
        app.router.add_get("/_emulator/responses", self._control_responses)
        app.router.add_post("/_emulator/faults", self._control_add_fault)
        app.router.add_delete("/_emulator/faults", self._control_clear_faults)
        app.router.add_post("/_emulator/response_urls", self._control_response_url)
        return app


    @property
    def api_url(self) -> str:
        """The value for ``SLACK_API_URL`` / ``AsyncWebClient(base_url=…)``."""
        return f"{self._base()}/api/"

    def _base(self) -> str:
        if self.url is None:
            raise RuntimeError("SlackEmulator.start() has not been called")
        return self.url

    # --- inspection -------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages as they stand now (chat.update and replace_original applied)."""
        found = self.workspace.channels.get(channel)
        return [] if found is None else [m.to_api(self.team_id) for m in found.messages]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages(channel) if m["ts"] == ts), None)

    def pins(self, channel: str) -> list[str]:
        found = self.workspace.channels.get(channel)
        return [] if found is None else list(found.pins)

    def channel(self, ref: str) -> dict[str, Any] | None:
        """A channel by ID or name (e.g. the incident channel the bot created), with its members."""
        channels = self.workspace.channels
        name = ref.removeprefix("#")
        found = channels.get(ref) or next((c for c in channels.values() if c.name == name), None)
        return None if found is None else {**self.workspace.channel_api(found), "members": list(found.members)}

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for ``user_id`` (views.publish), or None."""
        found = self.workspace.home_views.get(user_id)
        return None if found is None else {**found.view, "id": found.id, "hash": found.hash}

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a file (files.getUploadURLExternal → upload URL), or None."""
        found = self.workspace.files.get(file_id)
        return None if found is None else found.content

    def shared_files(self, channel: str) -> list[dict[str, Any]]:
        """The files shared in ``channel`` by files.completeUploadExternal, oldest first."""
        return [f for m in self.messages(channel) for f in m.get("files", [])]

    async def open_home(self, user_id: str, events_url: str, signer: Any, http: Any) -> Any:
        """What Slack does when ``user_id`` opens the app's Home tab: a signed ``app_home_opened``
        event to the Events API request URL (with the view last published for them, if any)."""
        view = self.workspace.home_views.get(user_id)
        req = signer.app_home_opened(user_id, view=None if view is None else {**view.view, "id": view.id,
                                                                                "hash": view.hash})
        return await http.post(events_url, content=req.body, headers=req.headers)

    def issue_trigger(self) -> str:
        """A trigger_id for a signed command or click, as Slack issues one (views.open accepts it for 3 s)."""
        return self.workspace.issue_trigger()

    def view(self, view_id: str) -> dict[str, Any] | None:
        """A modal the bot opened with views.open, as Slack holds it."""
        return self.workspace.views.get(view_id)

    def add_message(self, channel: str, text: str, *, user: str, blocks: list | None = None) -> str:
        """Seed a message (e.g. one from a person, which the bot may not chat.update); returns its ts."""
        return self.workspace.add_message(channel, text, user=user, blocks=blocks).ts

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 30.0) -> T:
        """Poll ``predicate`` until it returns something truthy (work after the ack runs in the background);
        it returns as soon as it does, so the bound is generous: a busy machine may be slow to get there."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if loop.time() >= deadline:
                seen = [c.method for c in self.calls]
                raise TimeoutError(f"condition not met within {timeout}s; calls so far: {seen}")
            await asyncio.sleep(0.01)

    # --- faults -----------------------------------------------------------------------------------

    def fail(self, method: str, error: str = "channel_not_found", count: int = 1, *,
             channel: str | None = None) -> None:
        """The next ``count`` calls to ``method`` (for ``channel``, if given) answer ``{"ok": false,
        "error": error}``."""
        self._faults[method].extend(_Fault(error=error, channel=channel) for _ in range(count))

    def server_error(self, method: str, status: int = 500, count: int = 1, *, channel: str | None = None) -> None:
        """The next ``count`` calls to ``method`` (for ``channel``, if given) answer HTTP ``status`` (Slack
        having a bad moment)."""
        self._faults[method].extend(_Fault(error="internal_error", status=status, channel=channel)
                                    for _ in range(count))

    def rate_limit(self, method: str, retry_after: int = 1, count: int = 1, *, channel: str | None = None) -> None:
        """The next ``count`` calls to ``method`` (for ``channel``, if given) answer HTTP 429 with ``Retry-After``."""
        self._faults[method].extend(_Fault(error="ratelimited", retry_after=retry_after, channel=channel)
                                    for _ in range(count))

    def hang(self, method: str, seconds: float, count: int = 1, *, channel: str | None = None) -> None:
        """The next ``count`` calls to ``method`` (for ``channel``, if given) wait ``seconds`` before being
        answered as usual."""
        self._faults[method].extend(_Fault(hang=seconds, channel=channel) for _ in range(count))

    def fail_response_urls(self, status: int = 500, count: int = 1) -> None:
        """The next ``count`` posts to any response_url answer HTTP ``status`` and are not applied."""
        self._faults[_RESPONSE_URL].extend(_Fault(status=status) for _ in range(count))

    def hang_response_urls(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` posts to any response_url wait ``seconds`` before being applied."""
        self._faults[_RESPONSE_URL].extend(_Fault(hang=seconds) for _ in range(count))

    def clear_faults(self) -> None:
        self._faults.clear()

    # --- response URLs ----------------------------------------------------------------------------

    def response_url(self, kind: str = "commands", *, channel: str = "C0GENERAL",
                     message_ts: str | None = None) -> str:
        """A fresh response_url, like Slack's ``https://hooks.slack.com/commands/T…/<n>/<secret>``.

        For ``kind="actions"`` pass the clicked message's ``message_ts`` so replace_original and
        delete_original act on it.
        """
        if kind not in RESPONSE_KINDS:
            raise ValueError(f"kind must be one of {RESPONSE_KINDS}")
        path = f"/{kind}/{self.team_id}/{next(self._hook_ids)}{secrets.randbelow(10**9):09d}/{secrets.token_hex(12)}"
        self._hooks[path] = _Hook(kind, channel, message_ts, self._clock())
        return self._base() + path

    # --- HTTP handlers ----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await _request_params(request)
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_json"})
        param_token = params.pop("token", None)
        token = _bearer(request.headers.get("Authorization")) or param_token
        call = ApiCall(method, token, params, self._clock(), request.method)
        self.calls.append(call)
        fault = self._take_fault(method, params) if token == self.bot_token else None
        if fault is not None and fault.hang is not None:
            await asyncio.sleep(fault.hang)
            fault = None
        status, body, headers = self._answer(method, token, params, fault)
        if token == self.bot_token:
            headers = {**headers, "X-OAuth-Scopes": ",".join(self.scopes)}
        if method == "files.getUploadURLExternal" and body.get("ok"):
            body["upload_url"] = self._base() + body["upload_url"]  # loopback, like files.slack.com
        call.status, call.response = status, body
        return web.json_response(body, status=status, headers=headers)

    def _over_tier(self, method: str, params: dict[str, Any]) -> int | None:
        """Seconds to wait when ``method`` (chat.postMessage: in that channel) is over its tier this minute."""
        limit = RATE_TIERS.get(method)
        if not self.rate_limits or limit is None:
            return None
        key = f"{method}:{params.get('channel')}" if method == "chat.postMessage" else method
        now, recent = self._clock(), self._recent[key]
        while recent and recent[0] <= now - RATE_WINDOW:
            recent.popleft()
        if len(recent) >= limit:
            return max(1, math.ceil(recent[0] + RATE_WINDOW - now))
        recent.append(now)
        return None

    def _apps_connections_open(self, token: str | None) -> tuple[int, dict, dict]:
        """Socket Mode's handshake: only an app-level token (``xapp-``, scope connections:write) opens a
        WebSocket URL; a bot token gets ``not_allowed_token_type``, anything else ``invalid_auth``."""
        if not token:
            return 200, ApiError("not_authed").body(), {}
        if token == self.bot_token:
            return 200, ApiError("not_allowed_token_type").body(), {}
        if self.app_token is None or token != self.app_token:
            return 200, ApiError("invalid_auth").body(), {}
        if (wait := self._over_tier("apps.connections.open", {})) is not None:
            return 429, ApiError("ratelimited").body(), {"Retry-After": str(wait)}
        host = self._base().removeprefix("http://")
        return 200, {"ok": True, "url": f"ws://{host}/link/?ticket={secrets.token_hex(8)}"}, {}

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL: raw bytes (or a multipart form with one file), answered 200 like Slack."""
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            part = next((v for v in form.values() if hasattr(v, "file")), None)
            content = part.file.read() if part is not None else b""
        else:
            content = await request.read()
        if not self.workspace.receive_upload(request.match_info["token"], content):
            return web.Response(status=404, text="not found")
        return web.Response(status=200, text=f"OK - {len(content)}")

    def _take_fault(self, method: str, params: dict[str, Any]) -> _Fault | None:
        """The first fault queued for ``method`` that applies to this call (its channel, or any), taken."""
        queue = self._faults.get(method)
        for fault in queue or ():
            if fault.channel is None or fault.channel == params.get("channel"):
                queue.remove(fault)
                return fault
        return None

    def _answer(self, method: str, token: str | None, params: dict[str, Any],
                fault: _Fault | None = None) -> tuple[int, dict, dict]:
        if method == "apps.connections.open":
            return self._apps_connections_open(token)
        if not token:
            return 200, ApiError("not_authed").body(), {}
        if token != self.bot_token:
            return 200, ApiError("invalid_auth").body(), {}
        if fault is not None:
            if fault.retry_after is not None:
                return 429, ApiError("ratelimited").body(), {"Retry-After": str(fault.retry_after)}
            return fault.status, ApiError(fault.error).body(), {}
        needed = METHOD_SCOPES.get(method)
        if needed and needed not in self.scopes:  # Slack answers missing_scope with what it needed
            return 200, ApiError("missing_scope", needed=needed, provided=",".join(self.scopes)).body(), {}
        if (wait := self._over_tier(method, params)) is not None:
            # "HTTP 429 Too Many Requests ... Retry-After" (docs.slack.dev, Rate limits); per method.
            return 429, ApiError("ratelimited").body(), {"Retry-After": str(wait)}
        try:
            return 200, self.workspace.call(method, params), {}
        except ApiError as err:
            return 200, err.body(), {}

    async def _response_url_post(self, request: web.Request) -> web.Response:
        hook = self._hooks.get(request.path)
        url = str(request.url)
        if hook is None:
            return web.json_response({"ok": False, "error": "no_service"}, status=404)
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        if self._faults.get(_RESPONSE_URL):
            fault = self._faults[_RESPONSE_URL].popleft()
            if fault.hang is None:
                self.responses.append(ResponseUrlPost(url, hook.kind, payload if isinstance(payload, dict) else {},
                                                      self._clock(), fault.status, "injected"))
                return web.Response(status=fault.status, text=_ERROR_PAGE, content_type="text/html")
            await asyncio.sleep(fault.hang or 0)
        status, error = self._apply_response(hook, payload)
        self.responses.append(ResponseUrlPost(url, hook.kind, payload if isinstance(payload, dict) else {},
                                              self._clock(), status, error))
        body = {"ok": True} if error is None else {"ok": False, "error": error}
        return web.json_response(body, status=status)

    def _apply_response(self, hook: _Hook, payload: Any) -> tuple[int, str | None]:
        if self._clock() - hook.created > RESPONSE_URL_TTL:
            return 404, "expired_url"
        if hook.uses >= RESPONSE_URL_USES:
            return 404, "used_url"
        if not isinstance(payload, dict):
            return 400, "invalid_payload"
        try:
            self.workspace.respond(hook.channel, hook.message_ts, payload)
        except ApiError as err:
            return 400, err.error
        hook.uses += 1
        return 200, None

    async def _control_calls(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        calls = [_call_json(c) for c in self.calls if method is None or c.method == method]
        return web.json_response({"calls": calls})

    async def _control_messages(self, request: web.Request) -> web.Response:
        channel = request.query.get("channel", "")
        if channel not in self.workspace.channels:
            return web.json_response({"ok": False, "error": "channel_not_found"}, status=404)
        return web.json_response({"channel": channel, "messages": self.messages(channel),
                                  "pins": self.pins(channel)})

    async def _control_responses(self, request: web.Request) -> web.Response:
        return web.json_response({"responses": [asdict(r) for r in self.responses]})

    async def _control_add_fault(self, request: web.Request) -> web.Response:
        spec = await request.json()
        count = int(spec.get("count", 1))
        if "retry_after" in spec:
            self.rate_limit(spec["method"], retry_after=int(spec["retry_after"]), count=count,
                            channel=spec.get("channel"))
        else:
            self.fail(spec["method"], error=spec.get("error", "channel_not_found"), count=count,
                      channel=spec.get("channel"))
        return web.json_response({"ok": True})

    async def _control_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"ok": True})

    async def _control_response_url(self, request: web.Request) -> web.Response:
        spec = await request.json()
        url = self.response_url(spec.get("kind", "commands"), channel=spec.get("channel", "C0GENERAL"),
                                message_ts=spec.get("message_ts"))
        return web.json_response({"url": url})


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def _request_params(request: web.Request) -> dict[str, Any]:
    """Query string, then form or JSON body, merged; JSON-encoded ``blocks``/``attachments`` decoded.

    Raises ValueError for a body that claims to be JSON and is not a JSON object.
    """
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body is not an object")
        params.update(body)
    elif request.can_read_body:
        params.update(await request.post())
    for key in ("blocks", "attachments"):
        if isinstance(params.get(key), str) and params[key]:
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | list | dict | None)}


def _call_json(call: ApiCall) -> dict[str, Any]:
    out = asdict(call)
    out["token"] = redact(call.token) if call.token else None
    return out


# --- standalone ---------------------------------------------------------------------------------------


def _parser(lang: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.emulators.slack",
                                     description=t("slack_emulator.about", lang))
    parser.add_argument("--host", default="127.0.0.1", help=t("slack_emulator.host", lang))
    parser.add_argument("--port", type=int, default=0, help=t("slack_emulator.port", lang))
    parser.add_argument("--config", help=t("slack_emulator.config", lang))
    return parser


def main(argv: list[str] | None = None) -> int:
    """``--config`` is a JSON file with any of: users, usergroups, channels, allow_channel_create, strict,
    team_id, bot_user_id. The bot token is ``SLACK_BOT_TOKEN`` when set (so the app and the emulator agree)."""
    args = _parser(os.environ.get("CHATOPS_LANGUAGE")).parse_args(argv)
    world: dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            world = json.load(fh)
    emulator = SlackEmulator(bot_token=os.environ.get("SLACK_BOT_TOKEN") or DEFAULT_BOT_TOKEN, **world)
    asyncio.run(serve_until_signalled(emulator, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
