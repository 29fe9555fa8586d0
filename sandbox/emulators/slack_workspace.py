"""The in-memory workspace behind the Slack emulator: channels, messages, pins, users, user groups.

Each Web API method the bot uses is a function of its params that returns Slack's success body or
raises ``ApiError`` with Slack's error code. Shapes follow Slack's OpenAPI examples
(shared/slack/web-api-openapi.json) and the behaviour in slack-platform.md §3–5.

Channels exist only when configured or created, as in a real workspace: public, private, archived,
direct messages (``D…``) and group DMs (``G…``). The bot sees a private channel, a DM or a group DM only
when it is a member (otherwise ``channel_not_found``: "Value passed for channel was invalid", the
chat.postMessage docs); it may post in a public channel it is not in only with ``chat:write.public``
(otherwise ``not_in_channel``); nobody posts in an archived one (``is_archived``: "Channel has been
archived.") nor edits a message there (chat.update: ``is_inactive``); ``conversations.join`` works for
public channels only (``method_not_supported_for_channel_type``).

Deliberate strictness beyond Slack: a message with blocks but no top-level ``text`` is refused with
``missing_text_fallback`` (Slack accepts it, but then notifications and screen readers get nothing), and
mrkdwn with a bare ``&`` or a ``<`` that opens no entity is refused (``invalid_blocks`` in blocks,
``invalid_arguments`` in ``text``): Slack would show such text mangled, so it is a rendering bug.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.render.blocks import MAX_POST_TEXT, MAX_UPDATE_TEXT, MAX_VIEW_BLOCKS, block_problems, view_problems

GENERAL_CHANNEL = ("C0GENERAL", "general")
CHANNEL_NAME_MAX = 80
_CHANNEL_NAME = re.compile(r"[a-z0-9_-]+")
_BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
_ENTITY = re.compile(r"<[^<>\s][^<>]*>")  # Slack's <@U…>, <#C…>, <!here>, <url|label>, <!date^…>
_USER_ID = re.compile(r"[UW][A-Z0-9]+")
MAX_ALT_TXT = 1000  # files.getUploadURLExternal: alt_txt_too_large beyond 1000 characters
MAX_VIEW_BYTES = 250 * 1024  # views.publish: view_too_large ("greater than 250kb")


class ApiError(Exception):
    """A Slack ``ok: false`` answer: ``error`` is Slack's code, ``extra`` any fields Slack adds."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass
class Message:
    ts: str
    text: str
    blocks: list
    user: str
    bot_id: str | None
    thread_ts: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)  # shared by files.completeUploadExternal

    def to_api(self, team_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text, "user": self.user,
                               "team": team_id, "blocks": self.blocks}
        if self.files:
            out["files"] = [dict(f) for f in self.files]
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        return out


@dataclass
class Channel:
    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_archived: bool = False
    everyone: bool = False  # every person in the workspace is a member (like #general); the bot is not implied
    members: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)

    def message(self, ts: str | None) -> Message | None:
        return next((m for m in self.messages if m.ts == ts), None)

    @property
    def is_public(self) -> bool:
        return not (self.is_private or self.is_im or self.is_mpim)

    def has_member(self, user_id: str, bot_user_id: str) -> bool:
        return user_id in self.members or (self.everyone and user_id != bot_user_id)


@dataclass
class UploadedFile:
    """A file between files.getUploadURLExternal and files.completeUploadExternal, then shared."""

    id: str
    filename: str
    length: int
    alt_txt: str
    upload_token: str
    content: bytes | None = None  # None until the bytes are POSTed to the upload URL
    title: str = ""
    completed: bool = False
    channels: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        mimetype = "image/png" if self.filename.lower().endswith(".png") else "application/octet-stream"
        return {"id": self.id, "name": self.filename, "title": self.title or self.filename, "mimetype": mimetype,
                "filetype": self.filename.rsplit(".", 1)[-1].lower(), "size": self.length,
                "alt_txt": self.alt_txt, "channels": list(self.channels)}


@dataclass
class HomeView:
    id: str
    hash: str
    view: dict[str, Any]


def flag(value: Any) -> bool:
    """Slack's boolean params arrive as true/false, 1/0 or JSON booleans."""
    return value is True or (isinstance(value, str | int) and str(value).lower() in ("1", "true"))


def markup_problems(text: str, pointer: str) -> list[str]:
    """Where mrkdwn text holds a bare ``&`` or a ``<`` that opens no Slack entity: user text that
    was not escaped (``&amp;``, ``&lt;``, ``&gt;``), which Slack would show mangled or as a link."""
    problems = []
    if _BARE_AMPERSAND.search(text):
        problems.append(f"unescaped '&' in mrkdwn text: send it as &amp; [json-pointer:{pointer}]")
    if "<" in _ENTITY.sub("", text):
        problems.append(f"'<' opens no link or mention: send it as &lt; [json-pointer:{pointer}]")
    return problems


def mrkdwn_problems(blocks: list) -> list[str]:
    """``markup_problems`` of every mrkdwn text object in ``blocks`` (plain_text is shown as is)."""
    problems: list[str] = []

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                problems.extend(markup_problems(node["text"], pointer + "/text"))
            for key, value in node.items():
                walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{pointer}/{i}")

    walk(blocks, "/blocks")
    return problems


def channel_name_error(name: str) -> str | None:
    """Slack's rule: lowercase letters, digits, hyphens and underscores, at most 80 characters."""
    if not name:
        return "invalid_name_required"
    if len(name) > CHANNEL_NAME_MAX:
        return "invalid_name_maxlength"
    if not _CHANNEL_NAME.fullmatch(name):
        return "invalid_name_specials"
    if not name.strip("-_"):
        return "invalid_name_punctuation"
    return None


TRIGGER_SECONDS = 3.0  # a trigger_id expires 3 seconds after Slack sends it (slack-platform.md §3)


class SlackWorkspace:
    def __init__(self, *, team_id: str, bot_user_id: str, bot_id: str = "B0BOT", bot_name: str = "chatops",
                 team_domain: str = "emulator", team_name: str = "Emulator",
                 users: Mapping[str, Mapping[str, Any]] | None = None,
                 usergroups: Mapping[str, list[str]] | None = None,
                 channels: Mapping[str, str | Mapping[str, Any]] | None = None, allow_channel_create: bool = True,
                 strict: bool = False, clock: Callable[[], float], scopes: tuple[str, ...] = (),
                 home_tab_enabled: bool = True) -> None:
        """``channels``: {id: name} (a public channel everyone and the bot are in) or {id: {name, is_private,
        is_archived, bot_member (default true), members, everyone}}; default {C0GENERAL: general}.
        Users: not ``strict`` (the default), any user-shaped ID (U…/W…) exists, as it does in Slack for the
        IDs found in real requests; ``strict``, only the configured users exist (others: user_not_found).
        """
        self.team_id, self.team_domain, self.team_name = team_id, team_domain, team_name
        self.bot_user_id, self.bot_id, self.bot_name = bot_user_id, bot_id, bot_name
        self.allow_channel_create = allow_channel_create
        self.strict = strict
        self.scopes = tuple(scopes)
        self.home_tab_enabled = home_tab_enabled
        self.files: dict[str, UploadedFile] = {}
        self.home_views: dict[str, HomeView] = {}  # user id -> the Home tab published for that person
        self._file_ids = itertools.count(1)
        self._view_ids = itertools.count(1)
        self._clock = clock
        self._last_ts_us = 0
        self._channel_ids = itertools.count(1)
        self.usergroups = {gid: list(members) for gid, members in (usergroups or {}).items()}
        self.users: dict[str, dict[str, Any]] = {bot_user_id: {"name": bot_name, "is_bot": True}}
        for members in self.usergroups.values():
            for uid in members:
                self.users.setdefault(uid, {})
        for uid, info in (users or {}).items():
            self.users[uid] = dict(info)
        self.channels: dict[str, Channel] = {}
        for cid, spec in (channels or dict([GENERAL_CHANNEL])).items():
            self._configure_channel(cid, spec)
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.update": self.chat_update,
            "conversations.create": self.conversations_create,
            "conversations.join": self.conversations_join,
            "conversations.invite": self.conversations_invite,
            "conversations.info": self.conversations_info,
            "conversations.open": self.conversations_open,
            "pins.add": self.pins_add,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
            "views.publish": self.views_publish,
            "views.open": self.views_open,
        }
        # trigger_id → when Slack issued it (``issue_trigger``); views.open exchanges each once, within 3 s.
        self.triggers: dict[str, float] = {}
        self.exchanged_triggers: set[str] = set()
        self.views: dict[str, dict[str, Any]] = {}
        self._view_ids = itertools.count(1)

    # --- setup and inspection -------------------------------------------------------------------

    def issue_trigger(self) -> str:
        """A trigger_id as Slack puts in a command or click payload, valid for one views.open within 3 s."""
        trigger = f"{next(self._view_ids) + 10**11}.{int(self._clock())}.{uuid.uuid4().hex}"
        self.triggers[trigger] = self._clock()
        return trigger

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method not in self._methods:
            raise ApiError("unknown_method", req_method=method)
        return {"ok": True, **self._methods[method](params)}

    def _configure_channel(self, cid: str, spec: str | Mapping[str, Any]) -> Channel:
        if isinstance(spec, str):
            return self.add_channel(spec, channel_id=cid, members=[self.bot_user_id], everyone=True)
        members = list(spec.get("members") or [])
        if spec.get("bot_member", True):
            members.append(self.bot_user_id)
        private = bool(spec.get("is_private", False))
        return self.add_channel(str(spec["name"]), channel_id=cid, members=members, is_private=private,
                                is_archived=bool(spec.get("is_archived", False)),
                                everyone=bool(spec.get("everyone", not private)))

    def add_channel(self, name: str, *, channel_id: str | None = None, members: list[str] | None = None,
                    is_private: bool = False, is_archived: bool = False, everyone: bool = False) -> Channel:
        """A channel (public unless ``is_private``); ``members`` must name the bot for it to be in it."""
        cid = channel_id or f"C{next(self._channel_ids):010d}"
        channel = Channel(cid, name, int(self._clock()), self.bot_user_id, is_private=is_private,
                          is_archived=is_archived, everyone=everyone, members=list(dict.fromkeys(members or [])))
        self.channels[cid] = channel
        return channel

    def add_dm(self, user_id: str, other_user_id: str | None = None) -> Channel:
        """The bot's DM with ``user_id``, or (with ``other_user_id``) a DM between two people, which the
        bot can neither see nor post in."""
        members = [user_id, other_user_id] if other_user_id else [self.bot_user_id, user_id]
        cid = "D" + (user_id[1:] if other_user_id is None else f"{next(self._channel_ids):010d}")
        dm = self.add_channel(user_id.lower(), channel_id=cid, members=members)
        dm.is_im = True
        return dm

    def add_group_dm(self, user_ids: list[str], *, with_bot: bool = False) -> Channel:
        """A group DM (``G…``, ``is_mpim``) among ``user_ids``, with the bot in it only if ``with_bot``."""
        members = [*user_ids, *([self.bot_user_id] if with_bot else [])]
        name = "mpdm-" + "--".join(u.lower() for u in user_ids) + "-1"
        group = self.add_channel(name, channel_id=f"G{next(self._channel_ids):010d}", members=members)
        group.is_mpim = True
        return group

    def archive(self, channel_id: str) -> None:
        self.channels[channel_id].is_archived = True

    def remove_member(self, channel_id: str, user_id: str) -> None:
        """Someone removes ``user_id`` (the bot, say) from the channel (``/kick``)."""
        channel = self.channels[channel_id]
        channel.members = [m for m in channel.members if m != user_id]

    def visible(self, channel: Channel) -> bool:
        """What the bot token can see: every public channel; private ones, DMs and group DMs it is in."""
        return channel.is_public or self.bot_user_id in channel.members

    def add_message(self, channel: str, text: str, *, user: str, blocks: list | None = None,
                    thread_ts: str | None = None, files: list[dict[str, Any]] | None = None) -> Message:
        bot_id = self.bot_id if user == self.bot_user_id else None
        message = Message(self.next_ts(), text, list(blocks or []), user, bot_id, thread_ts, list(files or []))
        self.find(channel).messages.append(message)
        return message

    def next_ts(self) -> str:
        """Unique, increasing message timestamps shaped like Slack's (``1764279000.000100``)."""
        now_us = max(int(self._clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def find(self, ref: Any) -> Channel:
        """A channel by ID or name (``#general``), whether or not the bot can see it; or a user ID (the
        bot's DM with that user, opened on first use as chat.postMessage does). Else channel_not_found."""
        ref = str(ref or "")
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name and channel.is_public:
                return channel
        if _USER_ID.fullmatch(ref) and self.has_user(ref):
            return self.channels.get("D" + ref[1:]) or self.add_dm(ref)
        raise ApiError("channel_not_found")

    def resolve(self, ref: Any) -> Channel:
        """``find``, limited to what the bot can see: a private channel, DM or group DM it is not in is
        ``channel_not_found`` to it ("Value passed for channel was invalid")."""
        channel = self.find(ref)
        if not self.visible(channel):
            raise ApiError("channel_not_found")
        return channel

    def postable(self, ref: Any) -> Channel:
        """A channel the bot may post in (chat.postMessage errors: channel_not_found, is_archived,
        not_in_channel; a public channel it is not in needs ``chat:write.public``)."""
        channel = self.resolve(ref)
        if channel.is_archived:
            raise ApiError("is_archived")
        if self.bot_user_id not in channel.members and "chat:write.public" not in self.scopes:
            raise ApiError("not_in_channel")
        return channel

    def has_user(self, user_id: str) -> bool:
        """Known (configured, or any user-shaped ID when not strict); unknown ones get default details."""
        if user_id not in self.users and not self.strict and _USER_ID.fullmatch(user_id):
            self.users[user_id] = {}
        return user_id in self.users

    def channel_api(self, channel: Channel, *, locale: bool = False, num_members: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": channel.id, "name": channel.name, "name_normalized": channel.name,
            "created": channel.created, "creator": channel.creator,
            "is_channel": channel.is_public, "is_group": channel.is_mpim,
            "is_im": channel.is_im, "is_mpim": channel.is_mpim, "is_private": not channel.is_public,
            "is_archived": channel.is_archived, "is_general": channel.id == GENERAL_CHANNEL[0],
            "is_member": self.bot_user_id in channel.members, "is_shared": False, "is_ext_shared": False,
            "is_org_shared": False, "is_pending_ext_shared": False, "pending_shared": [], "previous_names": [],
            "unlinked": 0, "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if locale:
            out["locale"] = "en-US"
        if num_members:
            out["num_members"] = len(self.users) - 1 if channel.everyone else len(channel.members)
        return out

    def user_api(self, user_id: str, *, locale: bool = False) -> dict[str, Any]:
        info = self.users[user_id]
        name = info.get("name", user_id.lower())
        real_name = info.get("real_name", name)
        display_name = info.get("display_name", name)
        out: dict[str, Any] = {
            "id": user_id, "team_id": self.team_id, "name": name, "deleted": info.get("deleted", False),
            "color": "9f69e7", "real_name": real_name, "tz": info.get("tz", "UTC"),
            "tz_label": info.get("tz_label", "Coordinated Universal Time"), "tz_offset": info.get("tz_offset", 0),
            "profile": {"real_name": real_name, "real_name_normalized": real_name, "display_name": display_name,
                        "display_name_normalized": display_name, "team": self.team_id},
            "is_admin": info.get("is_admin", False), "is_owner": False, "is_primary_owner": False,
            "is_restricted": False, "is_ultra_restricted": False, "is_bot": info.get("is_bot", False),
            "is_app_user": False, "updated": 1700000000,
        }
        if locale:
            out["locale"] = info.get("locale", "en-US")
        return out

    # --- message content --------------------------------------------------------------------------

    def content(self, params: Mapping[str, Any]) -> tuple[str, list | None]:
        """Text and blocks of a message payload, refused the way Slack (and our fallback rule) would."""
        blocks = params.get("blocks")
        if blocks in (None, ""):
            blocks = None
        elif not isinstance(blocks, list):
            raise ApiError("invalid_blocks_format")
        elif problems := block_problems(blocks) or mrkdwn_problems(blocks):
            raise ApiError("invalid_blocks", errors=problems,
                           response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        text = params.get("text")
        text = "" if text is None else str(text)
        if flag(params.get("mrkdwn", True)) and (problems := markup_problems(text, "/text")):
            raise ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        if not text.strip() and not blocks and not params.get("attachments"):
            raise ApiError("no_text")
        if blocks and not text.strip():
            raise ApiError("missing_text_fallback")
        return text, blocks

    # --- Web API methods ------------------------------------------------------------------------------

    def auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"https://{self.team_domain}.slack.com/", "team": self.team_name, "user": self.bot_name,
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False}

    def chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.postable(params.get("channel"))
        text, blocks = self.content(params)
        message = self.add_message(channel.id, text[:MAX_POST_TEXT], user=self.bot_user_id, blocks=blocks,
                                   thread_ts=params.get("thread_ts") or None)
        return {"channel": channel.id, "ts": message.ts, "message": message.to_api(self.team_id)}

    def chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve(params.get("channel"))
        if channel.is_archived:
            raise ApiError("is_archived")
        # user_not_in_channel: "Cannot post user messages to a channel they are not in."
        if not params.get("user") or not channel.has_member(str(params["user"]), self.bot_user_id):
            raise ApiError("user_not_in_channel")
        self.content(params)
        return {"message_ts": self.next_ts()}

    def chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve(params.get("channel"))
        if channel.is_archived:  # is_inactive: "The message cannot be edited within a frozen, archived or
            raise ApiError("is_inactive")  # deleted channel." (chat.update's error list)
        message = channel.message(params.get("ts"))
        if message is None:
            raise ApiError("message_not_found")
        if message.user != self.bot_user_id:
            raise ApiError("cant_update_message")
        text, blocks = self.content(params)
        if len(text) > MAX_UPDATE_TEXT:
            raise ApiError("msg_too_long")
        message.text, message.blocks = text, list(blocks or [])  # text without blocks removes the blocks
        return {"channel": channel.id, "ts": message.ts, "text": message.text,
                "message": message.to_api(self.team_id)}

    def conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        is_private = flag(params.get("is_private"))
        if not self.allow_channel_create:
            raise ApiError("missing_scope", needed="groups:write" if is_private else "channels:manage",
                           provided="commands,chat:write")
        name = str(params.get("name") or "")
        if error := channel_name_error(name):
            raise ApiError(error)
        if any(c.name == name for c in self.channels.values()):
            raise ApiError("name_taken")
        channel = self.add_channel(name, members=[self.bot_user_id], is_private=is_private)
        return {"channel": self.channel_api(channel)}

    def conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.find(params.get("channel"))
        if not channel.is_public:  # "This type of conversation cannot be joined" (conversations.join docs)
            raise ApiError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise ApiError("is_archived")
        if self.bot_user_id in channel.members:
            return {"channel": self.channel_api(channel), "warning": "already_in_channel",
                    "response_metadata": {"warnings": ["already_in_channel"]}}
        channel.members.append(self.bot_user_id)
        return {"channel": self.channel_api(channel)}

    def conversations_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve(params.get("channel"))
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("no_user")
        if self.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")
        if channel.is_archived:
            raise ApiError("is_archived")
        for uid in users:
            if uid == self.bot_user_id:
                raise ApiError("cant_invite_self")
            if not self.has_user(uid):
                raise ApiError("user_not_found")
        new = [uid for uid in dict.fromkeys(users) if uid not in channel.members]
        if not new:
            raise ApiError("already_in_channel")
        channel.members.extend(new)
        return {"channel": self.channel_api(channel)}

    def conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve(params.get("channel"))
        return {"channel": self.channel_api(channel, locale=flag(params.get("include_locale")),
                                            num_members=flag(params.get("include_num_members")))}

    def conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """A 1:1 DM with one user (``users``), or an existing DM resumed (``channel``). Errors are the
        documented ones (web-api-openapi.json, conversations.open): users_list_not_supplied,
        user_not_found, user_disabled, channel_not_found, method_not_supported_for_channel_type.
        Multi-person DMs (several ``users``) are not emulated: refused with not_supported_by_emulator."""
        if params.get("channel"):
            channel = self.channels.get(str(params["channel"]))
            if channel is None or not self.visible(channel):
                raise ApiError("channel_not_found")
            if not channel.is_im:
                raise ApiError("method_not_supported_for_channel_type")
            return {"channel": {"id": channel.id}, "no_op": True, "already_open": True}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 1:
            raise ApiError("not_supported_by_emulator")
        user = users[0]
        if not _USER_ID.fullmatch(user) or not self.has_user(user):
            raise ApiError("user_not_found")
        if self.users[user].get("deleted"):
            raise ApiError("user_disabled")
        existing = self.channels.get("D" + user[1:])
        dm = existing or self.add_dm(user)
        out: dict[str, Any] = {"channel": {"id": dm.id}}
        if existing is not None:
            out.update(no_op=True, already_open=True)
        if flag(params.get("return_im")):
            out["channel"] = {**self.channel_api(dm), "user": user, "is_open": True}
        return out

    def pins_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve(params.get("channel"))
        ts = params.get("timestamp")
        if not ts:
            raise ApiError("no_item_specified")
        if channel.message(ts) is None:
            raise ApiError("message_not_found")
        if ts in channel.pins:
            raise ApiError("already_pinned")
        channel.pins.append(ts)
        return {}

    def users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user") or "")
        if not self.has_user(user_id):
            raise ApiError("user_not_found")
        return {"user": self.user_api(user_id, locale=flag(params.get("include_locale")))}

    def views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """Open a modal. As Slack: ``trigger_id`` and ``view`` are required (``invalid_arguments``); a
        trigger is exchanged once (``trigger_exchanged``), within 3 seconds (``trigger_expired``), and must
        be one Slack issued (``invalid_trigger_id``); a view breaking Block Kit's rules is refused
        (``invalid_arguments`` with the problems in ``response_metadata.messages``)."""
        trigger, view = params.get("trigger_id"), params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise ApiError("invalid_arguments",
                               response_metadata={"messages": ["[ERROR] view: invalid JSON"]}) from None
        if not trigger or view is None:
            missing = "trigger_id" if not trigger else "view"
            raise ApiError("invalid_arguments", response_metadata={"messages": [
                f"[ERROR] missing required field: {missing}"]})
        if trigger in self.exchanged_triggers:
            raise ApiError("trigger_exchanged")
        issued = self.triggers.get(str(trigger))
        if issued is None:
            raise ApiError("invalid_trigger_id")
        if self._clock() - issued > TRIGGER_SECONDS:
            raise ApiError("trigger_expired")
        if problems := view_problems(view):
            raise ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        self.exchanged_triggers.add(str(trigger))
        view_id = f"V{next(self._view_ids):010d}"
        opened = {**view, "id": view_id, "team_id": self.team_id, "state": {"values": {}}, "hash": f"{view_id}.1",
                  "root_view_id": view_id, "previous_view_id": None, "app_id": "A0CHATOPS", "bot_id": self.bot_id,
                  "external_id": "", "clear_on_close": False, "notify_on_close": False}
        opened.setdefault("private_metadata", "")
        opened.setdefault("callback_id", "")
        self.views[view_id] = opened
        return {"view": opened}

    def usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup") or "")
        if group not in self.usergroups:
            raise ApiError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    # --- files: the external upload flow (files.upload is retired) ---------------------------------

    def files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        """Answers a loopback path (the emulator puts its base URL in front) and a file id."""
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None
        if not filename or length <= 0:
            raise ApiError("missing_argument")  # Slack: "typically only occurs when the length provided is 0"
        alt_txt = str(params.get("alt_txt") or "")
        if len(alt_txt) > MAX_ALT_TXT:
            raise ApiError("alt_txt_too_large")
        file_id = f"F{next(self._file_ids):010d}"
        token = f"{file_id.lower()}{self.next_ts().replace('.', '')}"
        self.files[file_id] = UploadedFile(file_id, filename, length, alt_txt, token)
        return {"upload_url": f"/upload/v1/{token}", "file_id": file_id}

    def receive_upload(self, token: str, content: bytes) -> bool:
        """The POST to an upload URL; False for an unknown or already used URL."""
        found = next((f for f in self.files.values() if f.upload_token == token), None)
        if found is None or found.content is not None:
            return False
        found.content = content
        return True

    def files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        """Shares the uploaded files in ``channel_id`` (in ``thread_ts``'s thread) as one bot message."""
        files = params.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                raise ApiError("invalid_arguments") from None
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise ApiError("invalid_arguments")
        found: list[UploadedFile] = []
        for item in files:
            upload = self.files.get(str(item.get("id") or ""))
            # "This method can only be called once"; a file whose bytes never arrived cannot be shared.
            if upload is None or upload.completed or upload.content is None:
                raise ApiError("file_not_found")
            if len(upload.content) != upload.length:
                # Not in the error list we hold for this method: the emulator's own, stricter answer to
                # bytes that do not match the length given to files.getUploadURLExternal.
                raise ApiError("file_upload_size_mismatch")
            found.append(upload)
        channel_id = params.get("channel_id")
        channel = self.postable(channel_id) if channel_id else None
        thread_ts = params.get("thread_ts") or None
        if thread_ts and (channel is None or channel.message(thread_ts) is None):
            # chat.postMessage's documented invalid_thread_ts, assumed here for a thread reply by upload.
            raise ApiError("invalid_thread_ts" if channel else "invalid_arguments")
        for upload, item in zip(found, files, strict=True):
            upload.title = str(item.get("title") or upload.filename)
            upload.completed = True
            if channel is not None:
                upload.channels.append(channel.id)
        if channel is not None:
            self.add_message(channel.id, str(params.get("initial_comment") or ""), user=self.bot_user_id,
                             thread_ts=thread_ts, files=[f.to_api() for f in found])
        return {"files": [{"id": f.id, "title": f.title} for f in found]}

    # --- the Home tab -----------------------------------------------------------------------------

    def views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user_id") or "")
        if not _USER_ID.fullmatch(user_id) or not self.has_user(user_id):
            raise ApiError("invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]})
        view = params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise ApiError("invalid_arguments") from None
        if not isinstance(view, dict):
            raise ApiError("invalid_arguments", response_metadata={"messages": ["invalid `view`"]})
        if view.get("type") != "home":
            raise ApiError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] must be home [json-pointer:/view/type]"]})
        if not self.home_tab_enabled:
            raise ApiError("not_enabled")  # a home view published while the app's Home tab is off
        if len(json.dumps(view).encode()) > MAX_VIEW_BYTES:
            raise ApiError("view_too_large")
        # Block errors in a view come back as invalid_arguments, pointers under /view (100 blocks at most).
        if problems := block_problems(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS):
            raise ApiError("invalid_arguments", response_metadata={
                "messages": [f"[ERROR] {p}".replace("[json-pointer:/", "[json-pointer:/view/") for p in problems]})
        current = self.home_views.get(user_id)
        wanted_hash = params.get("hash")
        if wanted_hash and current is not None and wanted_hash != current.hash:
            raise ApiError("hash_conflict")
        view_id = current.id if current else f"V{next(self._view_ids):010d}"
        published = HomeView(view_id, f"{int(self._clock())}.{next(self._view_ids):08x}", dict(view))
        self.home_views[user_id] = published
        return {"view": {**published.view, "id": view_id, "team_id": self.team_id, "type": "home",
                         "hash": published.hash, "app_id": "A0CHATOPS", "bot_id": self.bot_id,
                         "root_view_id": view_id, "previous_view_id": None, "state": {"values": {}}}}

    # --- response_url ---------------------------------------------------------------------------

    def respond(self, channel_id: str, message_ts: str | None, payload: Mapping[str, Any]) -> None:
        """Apply a response_url post: replace or delete the source message, or post in the channel.

        Ephemeral responses (the default) are seen by one user only, so nothing is stored for them.
        """
        if not (flag(payload.get("delete_original")) or flag(payload.get("replace_original"))
                or payload.get("response_type") == "in_channel"):
            self.content(payload)  # ephemeral: seen by one person, stored nowhere
            return
        # A response_url answers where the person acted, whatever the bot may post there (§2).
        channel = self.find(channel_id)
        if flag(payload.get("delete_original")):
            original = channel.message(message_ts)
            if original is None:
                raise ApiError("message_not_found")
            channel.messages.remove(original)
            return
        text, blocks = self.content(payload)
        if flag(payload.get("replace_original")) and message_ts is not None:
            original = channel.message(message_ts)
            if original is None:
                raise ApiError("message_not_found")
            original.text, original.blocks = text, list(blocks or [])
        elif payload.get("response_type") == "in_channel":
            self.add_message(channel.id, text, user=self.bot_user_id, blocks=blocks,
                             thread_ts=payload.get("thread_ts") or None)
