"""The bot scopes the features need (the manifest asks for exactly these; `chatops doctor` checks them)."""

from __future__ import annotations

REQUIRED_SCOPES: dict[str, str] = {
    "commands": "slash commands",
    "chat:write": "post and update the bot's messages",
    "chat:write.public": "post in public channels without joining them first",
    "channels:manage": "create incident channels and invite responders",
    "channels:join": "join an existing public channel",
    "channels:read": "conversations.info on public channels",
    "groups:read": "conversations.info on private channels the bot is in",
    "pins:write": "pin the incident summary",
    "im:write": "conversations.open: page the on-call person by direct message",
    "users:read": "users.info: display names and each person's language",
    "usergroups:read": "usergroups.users.list: approvers and responders by user group",
    "files:write": "files.getUploadURLExternal and files.completeUploadExternal: charts",
}
