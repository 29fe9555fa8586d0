"""The Slack emulator's file upload flow (files.getUploadURLExternal → upload URL → files.completeUploadExternal)
and the Home tab (views.publish), with the errors Slack documents, driven by slack_sdk over loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.emulators.slack import DEFAULT_BOT_TOKEN, SlackEmulator

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Services*"}}


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(users={"U0ANA": {"name": "ana"}}, channels={"C0OPS": "ops"}) as emulator:
        yield emulator


@pytest.fixture
async def client(emu) -> AsyncWebClient:
    return AsyncWebClient(token=DEFAULT_BOT_TOKEN, base_url=emu.api_url)


async def _error(call) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value.response["error"]


async def _upload(client: AsyncWebClient, content: bytes = PNG, **extra) -> str:
    answer = await client.files_getUploadURLExternal(filename="chart.png", length=len(content), **extra)
    assert answer["upload_url"].startswith("http://127.0.0.1:")  # loopback, like files.slack.com
    async with httpx.AsyncClient() as http:
        assert (await http.post(answer["upload_url"], content=content)).status_code == 200
    return answer["file_id"]


async def test_the_upload_flow_shares_the_file_in_a_thread(emu, client):
    parent = (await client.chat_postMessage(channel="C0OPS", text="Incident summary"))["ts"]
    file_id = await _upload(client, alt_txt="memory climbing past 80%")
    done = await client.files_completeUploadExternal(files=[{"id": file_id, "title": "Memory"}],
                                                     channel_id="C0OPS", thread_ts=parent, initial_comment="trend")
    assert done["files"] == [{"id": file_id, "title": "Memory"}]
    reply = emu.messages("C0OPS")[-1]
    assert reply["thread_ts"] == parent and reply["text"] == "trend"
    assert reply["files"][0]["alt_txt"] == "memory climbing past 80%" and reply["files"][0]["mimetype"] == "image/png"
    assert emu.file_content(file_id) == PNG and emu.shared_files("C0OPS")[0]["id"] == file_id


async def test_upload_errors_are_slacks(emu, client):
    assert await _error(client.files_getUploadURLExternal(filename="chart.png", length=0)) == "missing_argument"
    assert await _error(client.files_getUploadURLExternal(filename="c.png", length=9, alt_txt="x" * 1001)) == \
        "alt_txt_too_large"
    never_uploaded = (await client.files_getUploadURLExternal(filename="c.png", length=5))["file_id"]
    assert await _error(client.files_completeUploadExternal(files=[{"id": never_uploaded}], channel_id="C0OPS")) == \
        "file_not_found"
    file_id = await _upload(client)
    assert await _error(client.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C0OPS",
                                                            thread_ts="1.000001")) == "invalid_thread_ts"
    await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C0OPS")
    # "This method can only be called once."
    assert await _error(client.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C0OPS")) == \
        "file_not_found"
    short = (await client.files_getUploadURLExternal(filename="c.png", length=len(PNG) + 1))
    async with httpx.AsyncClient() as http:
        await http.post(short["upload_url"], content=PNG)
        assert (await http.post(short["upload_url"], content=PNG)).status_code == 404  # one use
    assert await _error(client.files_completeUploadExternal(files=[{"id": short["file_id"]}],
                                                            channel_id="C0OPS")) == "file_upload_size_mismatch"


async def test_views_publish_stores_the_home_tab_per_person_with_a_hash(emu, client):
    answer = await client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": [SECTION]})
    view = emu.home_view("U0ANA")
    assert view["blocks"] == [SECTION] and view["hash"] == answer["view"]["hash"]
    again = await client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": [SECTION] * 2},
                                       hash=answer["view"]["hash"])
    assert again["view"]["id"] == answer["view"]["id"]
    assert await _error(client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": []},
                                             hash=answer["view"]["hash"])) == "hash_conflict"


async def test_views_publish_errors_are_slacks(emu, client):
    home = {"type": "home", "blocks": [SECTION]}
    with pytest.raises(SlackApiError) as caught:
        await client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": [SECTION] * 101})
    assert caught.value.response["error"] == "invalid_arguments"
    assert "no more than 100 items allowed [json-pointer:/view/blocks]" in json.dumps(caught.value.response.data)
    assert len((await client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": [SECTION] * 100}))
               ["view"]["blocks"]) == 100  # 100 is fine for a view (50 for a message)
    assert await _error(client.views_publish(user_id="U0ANA", view={"type": "modal", "blocks": []})) == \
        "invalid_arguments"
    assert await _error(client.views_publish(user_id="not-a-user", view=home)) == "invalid_arguments"
    big = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 90}
    assert await _error(client.views_publish(user_id="U0ANA", view=big)) == "view_too_large"
    emu.workspace.home_tab_enabled = False
    assert await _error(client.views_publish(user_id="U0ANA", view=home)) == "not_enabled"
