"""The Slack Web API emulator, driven by slack_sdk's own async clients over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox.emulators.slack import DEFAULT_BOT_TOKEN, SlackEmulator

REPO = Path(__file__).resolve().parents[1]
USERS = {"U0ANA": {"name": "ana", "real_name": "Ana García", "locale": "es-ES", "tz": "Europe/Madrid"}}
GROUPS = {"S0ONCALL": ["U0ANA", "U0BEN"]}
TEXT = "Deploy finished"
BLOCKS = [{"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Deploy finished*"}}]


def button(text: str = "Approve", **extra) -> dict:
    return {"type": "button", "action_id": "rollback.approve", "value": "r-1",
            "text": {"type": "plain_text", "text": text}, **extra}


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(users=USERS, usergroups=GROUPS) as emulator:
        yield emulator


@pytest.fixture
def client(emu) -> AsyncWebClient:
    return AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)


def no_text_warning():
    """slack_sdk warns (client side) about a missing top-level text; the emulator must refuse it too."""
    return pytest.warns(UserWarning, match="top-level `text` argument is missing")


async def api_error(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def error_of(call) -> str:
    return (await api_error(call)).response["error"]


# --- auth and recording ---------------------------------------------------------------------------


async def test_auth_test_and_token_checks(emu, client):
    resp = await client.auth_test()
    assert resp.data == {"ok": True, "url": "https://emulator.slack.com/", "team": "Emulator", "user": "chatops",
                         "team_id": "T0EMULATOR", "user_id": "U0BOT", "bot_id": "B0BOT",
                         "is_enterprise_install": False}
    wrong = AsyncWebClient(token="xoxb-not-the-token", base_url=emu.api_url)
    assert await error_of(wrong.auth_test()) == "invalid_auth"
    async with httpx.AsyncClient() as http:
        assert (await http.post(emu.api_url + "auth.test")).json() == {"ok": False, "error": "not_authed"}
        by_param = await http.post(emu.api_url + "auth.test", data={"token": DEFAULT_BOT_TOKEN})
        assert by_param.json()["ok"] is True
    assert [c.token for c in emu.calls_to("auth.test")] == [DEFAULT_BOT_TOKEN, "xoxb-not-the-token", None,
                                                            DEFAULT_BOT_TOKEN]


async def test_unknown_method(client):
    err = await api_error(client.api_call("chat.frobnicate", params={"x": "1"}))
    assert err.response["error"] == "unknown_method"


async def test_post_message_json_and_form_bodies_are_recorded_with_blocks_decoded(emu, client):
    first = await client.chat_postMessage(channel="C0GENERAL", text=TEXT, blocks=BLOCKS)  # slack_sdk sends JSON
    async with httpx.AsyncClient() as http:
        second = (await http.post(emu.api_url + "chat.postMessage",
                                  headers={"Authorization": f"Bearer {DEFAULT_BOT_TOKEN}"},
                                  data={"channel": "#general", "text": TEXT, "blocks": json.dumps(BLOCKS)})).json()
    assert first["channel"] == second["channel"] == "C0GENERAL"
    assert float(first["ts"]) < float(second["ts"])
    assert first["message"]["text"] == TEXT and first["message"]["bot_id"] == "B0BOT"
    assert first["message"]["blocks"] == BLOCKS
    calls = emu.calls_to("chat.postMessage")
    assert [c.params["blocks"] for c in calls] == [BLOCKS, BLOCKS]
    assert [c.http_method for c in calls] == ["POST", "POST"] and all(c.ok for c in calls)
    assert [m["ts"] for m in emu.messages("C0GENERAL")] == [first["ts"], second["ts"]]


async def test_get_methods_read_the_query_string(client):
    user = (await client.users_info(user="U0ANA", include_locale=True))["user"]
    assert (user["id"], user["name"], user["real_name"], user["locale"], user["tz"]) == (
        "U0ANA", "ana", "Ana García", "es-ES", "Europe/Madrid")
    assert "locale" not in (await client.users_info(user="U0ANA"))["user"]
    other = (await client.users_info(user="U0BEN", include_locale=True))["user"]
    assert other["locale"] == "en-US"


# --- Block Kit and text ---------------------------------------------------------------------------


@pytest.mark.parametrize(("blocks", "text", "error", "pointer"), [
    ([{"type": "divider"}] * 51, TEXT, "invalid_blocks", "/blocks"),
    ([{"type": "actions", "elements": [button("x" * 76)]}], TEXT, "invalid_blocks", "/blocks/0/elements/0/text/text"),
    (BLOCKS, None, "missing_text_fallback", None),
    (BLOCKS, " ", "missing_text_fallback", None),
    (None, None, "no_text", None),
])
async def test_block_kit_and_text_rejections(emu, client, blocks, text, error, pointer):
    with no_text_warning() if not (text or "").strip() else contextlib.nullcontext():
        err = await api_error(client.chat_postMessage(channel="C0GENERAL", text=text, blocks=blocks))
    assert err.response["error"] == error
    if pointer:
        assert any(f"[json-pointer:{pointer}]" in m for m in err.response["response_metadata"]["messages"])
    assert emu.messages("C0GENERAL") == []


async def test_fifty_blocks_and_a_75_char_button_pass(client):
    blocks = [{"type": "divider"}] * 49 + [{"type": "actions", "elements": [button("x" * 75)]}]
    assert (await client.chat_postMessage(channel="C0GENERAL", text=TEXT, blocks=blocks))["ok"]


async def test_post_ephemeral(emu, client):
    resp = await client.chat_postEphemeral(channel="C0GENERAL", user="U0ANA", text="only you")
    assert resp["message_ts"]
    assert emu.messages("C0GENERAL") == []
    with no_text_warning():
        err = await api_error(client.chat_postEphemeral(channel="C0GENERAL", user="U0ANA", blocks=BLOCKS))
    assert err.response["error"] == "missing_text_fallback"


# --- chat.update ----------------------------------------------------------------------------------


async def test_chat_update_changes_the_stored_message(emu, client):
    posted = await client.chat_postMessage(channel="C0GENERAL", text=TEXT, blocks=BLOCKS)
    new_blocks = [{"type": "section", "block_id": "summary-2", "text": {"type": "mrkdwn", "text": "Approved"}}]
    updated = await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="Approved", blocks=new_blocks)
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C0GENERAL", posted["ts"], "Approved")
    [stored] = emu.messages("C0GENERAL")
    assert (stored["text"], stored["blocks"]) == ("Approved", new_blocks)
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="Text only")
    assert emu.message("C0GENERAL", posted["ts"])["blocks"] == []  # text without blocks removes them


async def test_chat_update_errors(emu, client):
    posted = await client.chat_postMessage(channel="C0GENERAL", text=TEXT)
    human = emu.add_message("C0GENERAL", "hello", user="U0ANA")
    ts = posted["ts"]
    assert await error_of(client.chat_update(channel="C0GENERAL", ts="1.000001", text="x")) == "message_not_found"
    assert await error_of(client.chat_update(channel="C0GENERAL", ts=human, text="x")) == "cant_update_message"
    assert await error_of(client.chat_update(channel="C0GENERAL", ts=ts, text="x" * 4001)) == "msg_too_long"
    with no_text_warning():
        err = await api_error(client.chat_update(channel="C0GENERAL", ts=ts, blocks=BLOCKS))
    assert err.response["error"] == "missing_text_fallback"
    assert emu.message("C0GENERAL", posted["ts"])["text"] == TEXT
    assert (await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="x" * 4000))["ok"]


# --- faults ---------------------------------------------------------------------------------------


async def test_rate_limit_answers_429_then_succeeds(emu, client):
    emu.rate_limit("chat.postMessage", retry_after=7)
    err = await api_error(client.chat_postMessage(channel="C0GENERAL", text=TEXT))
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "7"
    assert emu.messages("C0GENERAL") == []
    assert (await client.chat_postMessage(channel="C0GENERAL", text=TEXT))["ok"]
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [429, 200]


async def test_slack_sdk_rate_limit_handler_retries_after_retry_after(emu):
    client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url,
                            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    emu.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    resp = await client.chat_postMessage(channel="C0GENERAL", text=TEXT)
    assert resp["ok"] and time.monotonic() - started >= 1.0
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [429, 200]
    assert len(emu.messages("C0GENERAL")) == 1


async def test_fail_answers_ok_false_count_times_for_that_method_only(emu, client):
    emu.fail("chat.postMessage", error="not_in_channel", count=2)
    for _ in range(2):
        assert await error_of(client.chat_postMessage(channel="C0GENERAL", text=TEXT)) == "not_in_channel"
    assert (await client.auth_test())["ok"]
    assert (await client.chat_postMessage(channel="C0GENERAL", text=TEXT))["ok"]


# --- response_url ---------------------------------------------------------------------------------


async def test_response_url_replace_original_updates_the_clicked_message(emu, client):
    posted = await client.chat_postMessage(channel="C0GENERAL", text="Approve?",
                                           blocks=[{"type": "actions", "elements": [button()]}])
    url = emu.response_url("actions", message_ts=posted["ts"])
    assert url.startswith(f"{emu.url}/actions/T0EMULATOR/")
    resp = await AsyncWebhookClient(url).send(text="Approved by <@U0ANA>", replace_original=True,
                                              blocks=[{"type": "section", "text": {"type": "mrkdwn",
                                                                                   "text": "Approved"}}])
    assert resp.status_code == 200
    [stored] = emu.messages("C0GENERAL")
    assert stored["text"] == "Approved by <@U0ANA>" and stored["blocks"][0]["text"]["text"] == "Approved"
    [record] = emu.responses
    assert (record.kind, record.status, record.payload["replace_original"]) == ("actions", 200, True)


async def test_response_url_in_channel_ephemeral_and_delete(emu, client):
    commands = AsyncWebhookClient(emu.response_url())
    await commands.send(text="only for you")
    assert emu.messages("C0GENERAL") == []
    await commands.send(text="for everyone", response_type="in_channel")
    assert [m["text"] for m in emu.messages("C0GENERAL")] == ["for everyone"]
    posted = await client.chat_postMessage(channel="C0GENERAL", text="Approve?")
    await AsyncWebhookClient(emu.response_url("actions", message_ts=posted["ts"])).send_dict(
        {"delete_original": True})
    assert [m["text"] for m in emu.messages("C0GENERAL")] == ["for everyone"]
    assert [r.payload.get("response_type") for r in emu.responses] == [None, "in_channel", None]


async def test_response_url_limits(emu):
    hook = AsyncWebhookClient(emu.response_url())
    assert (await hook.send(blocks=BLOCKS)).status_code == 400  # no text fallback
    for _ in range(5):
        assert (await hook.send(text="ok")).status_code == 200
    sixth = await hook.send(text="one too many")
    assert sixth.status_code == 404 and json.loads(sixth.body)["error"] == "used_url"
    assert [r.status for r in emu.responses] == [400, 200, 200, 200, 200, 200, 404]


async def test_response_url_expires_after_30_minutes():
    now = [1_700_000_000.0]
    async with SlackEmulator(clock=lambda: now[0]) as emu:
        hook = AsyncWebhookClient(emu.response_url())
        now[0] += 30 * 60
        assert (await hook.send(text="just in time")).status_code == 200
        now[0] += 1
        late = await hook.send(text="too late")
        assert late.status_code == 404 and json.loads(late.body)["error"] == "expired_url"


# --- conversations, pins, user groups --------------------------------------------------------------


@pytest.mark.parametrize(("name", "error"), [
    ("", "invalid_name_required"),
    ("x" * 81, "invalid_name_maxlength"),
    ("Inc-Backend", "invalid_name_specials"),
    ("inc backend", "invalid_name_specials"),
    ("inc.backend", "invalid_name_specials"),
    ("--__", "invalid_name_punctuation"),
    ("general", "name_taken"),
])
async def test_conversations_create_name_rules(client, name, error):
    assert await error_of(client.conversations_create(name=name)) == error


async def test_conversations_create_join_invite_info_and_pins(emu, client):
    created = (await client.conversations_create(name="inc-2026-backend_" + "x" * 63))["channel"]
    assert len(created["name"]) == 80 and created["is_member"] and created["id"].startswith("C")
    assert await error_of(client.conversations_create(name=created["name"])) == "name_taken"
    joined = await client.conversations_join(channel=created["id"])
    assert joined["warning"] == "already_in_channel"
    assert joined["response_metadata"]["warnings"] == ["already_in_channel"]
    members = (await client.usergroups_users_list(usergroup="S0ONCALL"))["users"]
    assert members == ["U0ANA", "U0BEN"]
    await client.conversations_invite(channel=created["id"], users=",".join(members))
    assert emu.channel(created["name"])["members"] == ["U0BOT", "U0ANA", "U0BEN"]
    err = await api_error(client.conversations_invite(channel=created["id"], users="U0ANA"))
    assert err.response["error"] == "already_in_channel"
    info = (await client.conversations_info(channel=created["id"], include_num_members=True))["channel"]
    assert (info["name"], info["num_members"]) == (created["name"], 3)
    posted = await client.chat_postMessage(channel=created["id"], text="Summary")
    assert (await client.pins_add(channel=created["id"], timestamp=posted["ts"]))["ok"]
    err = await api_error(client.pins_add(channel=created["id"], timestamp=posted["ts"]))
    assert err.response["error"] == "already_pinned"
    assert emu.pins(created["id"]) == [posted["ts"]]
    err = await api_error(client.usergroups_users_list(usergroup="S0NOPE"))
    assert err.response["error"] == "no_such_subteam"


async def test_channel_creation_without_the_scope():
    async with SlackEmulator(allow_channel_create=False) as emu:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        err = await api_error(client.conversations_create(name="inc-1"))
        assert (err.response["error"], err.response["needed"]) == ("missing_scope", "channels:manage")


async def test_strict_users_know_only_configured_ids():
    async with SlackEmulator(users=USERS, strict=True) as emu:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        assert await error_of(client.users_info(user="U0NOBODY")) == "user_not_found"
        assert (await client.users_info(user="U0ANA"))["user"]["name"] == "ana"


# --- a workspace as strict as Slack: channels, privacy, membership, DMs ------------------------------

WORLD = {
    "C0GENERAL": "general",
    "C0RANDOM": {"name": "random", "bot_member": False},
    "C0SECRET": {"name": "secret", "is_private": True, "bot_member": False, "members": ["U0ANA"]},
    "C0PRIVOPS": {"name": "priv-ops", "is_private": True, "members": ["U0ANA"]},
    "C0OLD": {"name": "old", "is_archived": True},
}


@pytest.fixture
async def world() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(users=USERS, channels=WORLD) as emulator:
        yield emulator


@pytest.fixture
def wclient(world) -> AsyncWebClient:
    return AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=world.api_url)


async def test_channels_exist_only_when_configured_or_created(world, wclient):
    # chat.postMessage / conversations.info / conversations.join: channel_not_found, "Value passed for
    # channel was invalid."
    for call in (wclient.chat_postMessage(channel="C0NOWHERE", text=TEXT),
                 wclient.conversations_info(channel="C0NOWHERE"), wclient.conversations_join(channel="C0NOWHERE")):
        assert await error_of(call) == "channel_not_found"
    assert world.channel("C0NOWHERE") is None


async def test_a_private_channel_without_the_bot_is_invisible_to_it(world, wclient):
    # Private conversations the token is not in are channel_not_found, not not_in_channel.
    assert await error_of(wclient.chat_postMessage(channel="C0SECRET", text=TEXT)) == "channel_not_found"
    assert await error_of(wclient.conversations_info(channel="C0SECRET")) == "channel_not_found"
    assert world.messages("C0SECRET") == []
    info = (await wclient.conversations_info(channel="C0PRIVOPS"))["channel"]
    assert (info["is_private"], info["is_channel"], info["is_member"]) == (True, False, True)
    assert (await wclient.chat_postMessage(channel="C0PRIVOPS", text=TEXT))["ok"]


async def test_join_works_for_public_channels_only(world, wclient):
    # conversations.join: method_not_supported_for_channel_type for private channels, DMs and group DMs.
    assert await error_of(wclient.conversations_join(channel="C0SECRET")) == "method_not_supported_for_channel_type"
    dm = world.workspace.add_dm("U0ANA", "U0BEN")
    assert await error_of(wclient.conversations_join(channel=dm.id)) == "method_not_supported_for_channel_type"
    joined = await wclient.conversations_join(channel="C0RANDOM")
    assert "warning" not in joined and joined["channel"]["is_member"]
    assert (await wclient.conversations_join(channel="C0RANDOM"))["warning"] == "already_in_channel"


async def test_a_public_channel_without_the_bot_needs_chat_write_public():
    async with SlackEmulator(channels=WORLD, scopes=("commands", "chat:write")) as emu:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        # not_in_channel: "Cannot post user messages to a channel they are not in."
        assert await error_of(client.chat_postMessage(channel="C0RANDOM", text=TEXT)) == "not_in_channel"
        await client.conversations_join(channel="C0RANDOM")
        assert (await client.chat_postMessage(channel="C0RANDOM", text=TEXT))["ok"]
    async with SlackEmulator(channels=WORLD) as emu:  # the manifest's scopes include chat:write.public
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        assert (await client.chat_postMessage(channel="C0RANDOM", text=TEXT))["ok"]
        assert emu.channel("C0RANDOM")["is_member"] is False


async def test_nobody_posts_in_an_archived_channel(world, wclient):
    # is_archived: "Channel has been archived."
    assert await error_of(wclient.chat_postMessage(channel="C0OLD", text=TEXT)) == "is_archived"
    assert await error_of(wclient.chat_postEphemeral(channel="C0OLD", user="U0ANA", text=TEXT)) == "is_archived"
    assert (await wclient.conversations_info(channel="C0OLD"))["channel"]["is_archived"] is True


async def test_no_message_is_edited_in_an_archived_channel(world, wclient):
    # chat.update's error list: is_inactive, "The message cannot be edited within a frozen, archived or
    # deleted channel." The message stays as it was.
    ts = (await wclient.chat_postMessage(channel="C0GENERAL", text=TEXT))["ts"]
    world.workspace.archive("C0GENERAL")
    assert await error_of(wclient.chat_update(channel="C0GENERAL", ts=ts, text="edited")) == "is_inactive"
    assert world.message("C0GENERAL", ts)["text"] == TEXT


async def test_a_bot_removed_from_a_private_channel_no_longer_sees_it(world, wclient):
    # Removed (/kick) from a private channel, the bot is as outside it as if it had never been in:
    # channel_not_found for posts and edits alike.
    ts = (await wclient.chat_postMessage(channel="C0PRIVOPS", text=TEXT))["ts"]
    world.workspace.remove_member("C0PRIVOPS", "U0BOT")
    assert await error_of(wclient.chat_postMessage(channel="C0PRIVOPS", text=TEXT)) == "channel_not_found"
    assert await error_of(wclient.chat_update(channel="C0PRIVOPS", ts=ts, text="edited")) == "channel_not_found"


async def test_a_dm_between_two_people_is_closed_to_the_bot(world, wclient):
    dm = world.workspace.add_dm("U0ANA", "U0BEN")
    assert dm.id.startswith("D")
    assert await error_of(wclient.chat_postMessage(channel=dm.id, text=TEXT)) == "channel_not_found"
    own = await wclient.chat_postMessage(channel="U0ANA", text=TEXT)  # a user id opens the bot's DM
    assert own["channel"].startswith("D") and world.messages(own["channel"])[0]["text"] == TEXT
    info = (await wclient.conversations_info(channel=own["channel"]))["channel"]
    assert (info["is_im"], info["is_private"]) == (True, True)


async def test_group_dms_are_visible_only_with_the_bot_in_them(world, wclient):
    closed = world.workspace.add_group_dm(["U0ANA", "U0BEN"])
    open_ = world.workspace.add_group_dm(["U0ANA", "U0BEN"], with_bot=True)
    assert closed.id.startswith("G") and open_.id.startswith("G")
    assert await error_of(wclient.chat_postMessage(channel=closed.id, text=TEXT)) == "channel_not_found"
    assert (await wclient.chat_postMessage(channel=open_.id, text=TEXT))["ok"]
    assert (await wclient.conversations_info(channel=open_.id))["channel"]["is_mpim"] is True


async def test_ephemeral_only_to_a_member(world, wclient):
    # chat.postEphemeral: user_not_in_channel, "Cannot post user messages to a channel they are not in."
    assert await error_of(wclient.chat_postEphemeral(channel="C0PRIVOPS", user="U0BEN", text=TEXT)) == \
        "user_not_in_channel"
    assert (await wclient.chat_postEphemeral(channel="C0PRIVOPS", user="U0ANA", text=TEXT))["ok"]
    assert (await wclient.chat_postEphemeral(channel="C0GENERAL", user="U0BEN", text=TEXT))["ok"]


async def test_response_url_answers_where_the_person_acted(world):
    # A response_url bypasses channel posting permissions (slack-platform.md §2): a command typed in a
    # DM between two people can still be answered in it.
    dm = world.workspace.add_dm("U0ANA", "U0BEN")
    hook = AsyncWebhookClient(world.response_url(channel=dm.id))
    assert (await hook.send(text="in the DM", response_type="in_channel")).status_code == 200
    assert [m["text"] for m in world.messages(dm.id)] == ["in the DM"]


@pytest.mark.parametrize(("text", "problem"), [
    ("R&D is down", "unescaped '&'"),
    ("if a < b", "'<' opens no link"),
    ("<broken", "'<' opens no link"),
])
async def test_unescaped_markup_is_refused(emu, client, text, problem):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    err = await api_error(client.chat_postMessage(channel="C0GENERAL", text="fallback", blocks=blocks))
    assert err.response["error"] == "invalid_blocks"
    assert problem in err.response["errors"][0] and "[json-pointer:/blocks/0/text/text]" in err.response["errors"][0]
    err = await api_error(client.chat_postMessage(channel="C0GENERAL", text=text))
    assert err.response["error"] == "invalid_arguments"
    assert problem in err.response["response_metadata"]["messages"][0]
    assert emu.messages("C0GENERAL") == []


async def test_escaped_text_entities_and_plain_text_pass(emu, client):
    text = "R&amp;D &lt;b&gt; for <@U0ANA> in <#C0GENERAL> at <!date^1764279000^{time}|10:10>"
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "a < b & c"}},
              {"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    assert (await client.chat_postMessage(channel="C0GENERAL", text=text, blocks=blocks))["ok"]


async def test_each_method_has_its_rate_limit_tier():
    now = [1_764_000_000.0]
    async with SlackEmulator(usergroups=GROUPS, clock=lambda: now[0]) as emu:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        for _ in range(20):  # usergroups.users.list is Tier 2: 20+ per minute
            await client.usergroups_users_list(usergroup="S0ONCALL")
        err = await api_error(client.usergroups_users_list(usergroup="S0ONCALL"))
        assert (err.response.status_code, err.response["error"]) == (429, "ratelimited")
        assert int(err.response.headers["Retry-After"]) == 60
        assert (await client.users_info(user="U0ANA"))["ok"]  # limits are per method
        now[0] += 61
        assert (await client.usergroups_users_list(usergroup="S0ONCALL"))["ok"]


async def test_chat_post_message_is_limited_per_channel():
    now = [1_764_000_000.0]
    channels = {"C0GENERAL": "general", "C0OPS": "ops"}
    async with SlackEmulator(channels=channels, clock=lambda: now[0]) as emu:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        for i in range(60):
            now[0] += 0.1  # a burst: ten a second for six seconds
            await client.chat_postMessage(channel="C0GENERAL", text=f"{i}")
        err = await api_error(client.chat_postMessage(channel="C0GENERAL", text="one more"))
        assert (err.response.status_code, err.response["error"]) == (429, "ratelimited")
        assert (await client.chat_postMessage(channel="C0OPS", text=TEXT))["ok"]


async def test_a_fault_can_be_aimed_at_one_channel(emu, client):
    # Faults for one channel leave the same method's calls elsewhere alone, and wait for their channel.
    emu.workspace.add_channel("ops", channel_id="C0OPS", members=["U0BOT"], everyone=True)
    emu.server_error("chat.postMessage", status=503, count=1, channel="C0OPS")
    emu.fail("chat.postMessage", "is_archived", count=1, channel="C0OPS")
    assert (await client.chat_postMessage(channel="C0GENERAL", text="first"))["ok"]
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0OPS", text="second")
    assert caught.value.response.status_code == 503
    assert await error_of(client.chat_postMessage(channel="C0OPS", text="third")) == "is_archived"
    assert (await client.chat_postMessage(channel="C0OPS", text="fourth"))["ok"]
    assert [m["text"] for m in emu.messages("C0OPS")] == ["fourth"]


async def test_server_errors_answer_5xx(emu, client):
    emu.server_error("chat.postMessage", status=503)
    err = await api_error(client.chat_postMessage(channel="C0GENERAL", text=TEXT))
    assert err.response.status_code == 503
    assert (await client.chat_postMessage(channel="C0GENERAL", text=TEXT))["ok"]


async def test_apps_connections_open_takes_only_the_app_level_token():
    async with SlackEmulator(app_token="xapp-1-A0-emulator") as emu:
        app = AsyncWebClient(token="xapp-1-A0-emulator", base_url=emu.api_url)
        assert (await app.apps_connections_open(app_token="xapp-1-A0-emulator"))["url"].startswith("ws://")
        bot = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        assert await error_of(bot.apps_connections_open(app_token=DEFAULT_BOT_TOKEN)) == "not_allowed_token_type"
        assert await error_of(bot.apps_connections_open(app_token="xapp-wrong")) == "invalid_auth"


# --- helpers, control API, standalone ---------------------------------------------------------------


async def test_wait_for_returns_the_value_or_times_out(emu, client):
    async def later():
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel="C0GENERAL", text=TEXT)

    task = asyncio.create_task(later())
    calls = await emu.wait_for(lambda: emu.calls_to("chat.postMessage"), timeout=30)
    assert calls[0].params["text"] == TEXT
    await task
    with pytest.raises(TimeoutError):
        await emu.wait_for(lambda: emu.calls_to("pins.add"), timeout=0.05)


async def test_control_api(emu):
    async with httpx.AsyncClient(base_url=emu.url) as http:
        assert (await http.post("/_emulator/faults", json={"method": "chat.postMessage", "error": "is_archived"}
                                )).json() == {"ok": True}
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        assert await error_of(client.chat_postMessage(channel="C0GENERAL", text=TEXT)) == "is_archived"
        await http.post("/_emulator/faults", json={"method": "chat.postMessage", "retry_after": 2})
        await http.delete("/_emulator/faults")
        posted = await client.chat_postMessage(channel="C0GENERAL", text=TEXT)
        calls = (await http.get("/_emulator/calls", params={"method": "chat.postMessage"})).json()["calls"]
        assert [c["response"]["ok"] for c in calls] == [False, True]
        assert DEFAULT_BOT_TOKEN not in json.dumps(calls)
        messages = (await http.get("/_emulator/messages", params={"channel": "C0GENERAL"})).json()
        assert [m["ts"] for m in messages["messages"]] == [posted["ts"]]
        assert (await http.get("/_emulator/messages", params={"channel": "C0NONE"})).status_code == 404
        url = (await http.post("/_emulator/response_urls", json={"kind": "actions", "message_ts": posted["ts"]}
                               )).json()["url"]
        await http.post(url, json={"text": "Replaced", "replace_original": True})
        assert (await http.get("/_emulator/responses")).json()["responses"][0]["payload"]["text"] == "Replaced"
        assert emu.message("C0GENERAL", posted["ts"])["text"] == "Replaced"


async def test_standalone_process_prints_its_url_and_serves():
    env = {**os.environ, "PYTHONPATH": str(REPO), "SLACK_BOT_TOKEN": "xoxb-standalone-0000"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "sandbox.emulators.slack", cwd=REPO, env=env,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().strip()
        assert url.startswith("http://127.0.0.1:")
        client = AsyncWebClient(token="xoxb-standalone-0000", base_url=url + "/api/")
        assert (await client.auth_test())["user_id"] == "U0BOT"
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0


async def test_conversations_open_a_direct_message_then_post_in_it(emu, client):
    opened = await client.conversations_open(users="U0ANA")
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and "already_open" not in opened.data
    again = await client.conversations_open(users="U0ANA", return_im=True)
    assert again["channel"]["id"] == dm and again["already_open"] and again["channel"]["is_im"]
    posted = await client.chat_postMessage(channel=dm, text="You are paged for INC-1")
    assert posted["channel"] == dm and emu.messages(dm)[0]["text"] == "You are paged for INC-1"
    assert (await client.conversations_open(channel=dm))["channel"]["id"] == dm


@pytest.mark.parametrize("params, error", [
    ({}, "users_list_not_supplied"),
    ({"users": "U0NOBODY"}, "user_not_found"),
    ({"users": "not-a-user"}, "user_not_found"),
    ({"users": "U0ANA,U0BEN"}, "not_supported_by_emulator"),
    ({"channel": "D0NOPE"}, "channel_not_found"),
    ({"channel": "C0GENERAL"}, "method_not_supported_for_channel_type"),
])
async def test_conversations_open_errors(params, error):
    """Raw form posts: slack_sdk itself refuses a call with neither users nor channel before sending it."""
    async with SlackEmulator(users=USERS, usergroups=GROUPS, strict=True) as emulator, httpx.AsyncClient() as http:
        resp = await http.post(emulator.api_url + "conversations.open", data=params,
                               headers={"Authorization": f"Bearer {DEFAULT_BOT_TOKEN}"})
        assert resp.json() == {"ok": False, "error": error}


async def test_conversations_open_needs_im_write():
    async with SlackEmulator(users=USERS, scopes=("chat:write",)) as emulator:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emulator.api_url)
        with pytest.raises(SlackApiError) as caught:
            await client.conversations_open(users="U0ANA")
        assert (caught.value.response["error"], caught.value.response["needed"]) == ("missing_scope", "im:write")


MODAL = {"type": "modal", "callback_id": "db.restore.confirm", "private_metadata": "{}",
         "title": {"type": "plain_text", "text": "Confirm the restore"},
         "submit": {"type": "plain_text", "text": "Restore"},
         "blocks": [{"type": "input", "block_id": "confirm", "label": {"type": "plain_text", "text": "Type it"},
                     "element": {"type": "plain_text_input", "action_id": "service"}}]}


async def test_views_open_exchanges_a_trigger_once_within_three_seconds():
    now = [1_000.0]
    async with SlackEmulator(clock=lambda: now[0]) as emu:
        client = AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)
        trigger = emu.issue_trigger()
        opened = await client.views_open(trigger_id=trigger, view=MODAL)
        view = emu.view(opened["view"]["id"])
        assert view["callback_id"] == "db.restore.confirm" and view["state"] == {"values": {}}
        assert (await api_error(client.views_open(trigger_id=trigger, view=MODAL))).response["error"] == \
            "trigger_exchanged"
        late = emu.issue_trigger()
        now[0] += 3.5
        assert (await api_error(client.views_open(trigger_id=late, view=MODAL))).response["error"] == \
            "trigger_expired"
        forged = "123456789012.1000.0123456789abcdef0123456789abcdef"
        assert (await api_error(client.views_open(trigger_id=forged, view=MODAL))).response["error"] == \
            "invalid_trigger_id"


@pytest.mark.parametrize(("change", "pointer"), [
    ({"title": {"type": "plain_text", "text": "A title longer than 24 chars"}}, "/view/title/text"),
    ({"type": "home"}, "/view/type"),
    ({"submit": None}, "/view/submit"),
    ({"blocks": [{"type": "input", "block_id": "x", "label": {"type": "plain_text", "text": "L"},
                  "element": {"type": "button"}}]}, "/view/blocks/0/element/type")])
async def test_views_open_refuses_a_view_slack_would_refuse(emu, client, change, pointer):
    view = {k: v for k, v in {**MODAL, **change}.items() if v is not None}
    err = await api_error(client.views_open(trigger_id=emu.issue_trigger(), view=view))
    assert err.response["error"] == "invalid_arguments"
    assert any(pointer in m for m in err.response["response_metadata"]["messages"])
