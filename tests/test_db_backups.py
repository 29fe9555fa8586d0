"""/db <service> backups and backup: signed requests, the Slack and Railway emulators, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from sandbox.emulators.railway import RailwayEmulator
from tests import db_env
from tests.conftest import eventually

USAGE = "Usage: `/db backend backups`"


@pytest.fixture
async def railway():
    emu = RailwayEmulator(db_env.world(), stage_seconds=0.05)
    await emu.start()
    yield emu
    await emu.stop()


async def _finished(bot, request_id):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


async def test_backups_lists_ages_sizes_expiry_schedules_and_warns_when_stale(make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    before = len(slack.responses)
    resp = await db_env.command(bot, slack, signer, "backend backups")
    assert "Reading the backups" in resp.json()["text"]
    payload = (await db_env.responses_after(slack, before))[0].payload
    text = json.dumps(payload, ensure_ascii=False)
    assert payload["response_type"] == "ephemeral"
    assert "*Newest:* Daily" in text and "(1 d 6 h ago)" in text and "expires in 3 d 23 h" in text
    assert text.index("bk-daily") < text.index("bk-manual")  # newest first
    assert "Daily (`0 3 * * *`), kept 6 d" in text
    assert "newest backup is 1 d 6 h old" in text and "No backup schedule" not in text
    assert [c.fields for c in railway.queries()][-2:] == [("volumeInstanceBackupList",),
                                                          ("volumeInstanceBackupScheduleList",)]


async def test_backups_warns_without_schedule_or_backups(make_bot, slack, signer):
    emu = RailwayEmulator(db_env.world(schedules=False, backups=False))
    await emu.start()
    try:
        bot = await make_bot(db_env.services(), **db_env.settings(emu))
        before = len(slack.responses)
        await db_env.command(bot, slack, signer, "backend backups")
        text = json.dumps((await db_env.responses_after(slack, before))[0].payload, ensure_ascii=False)
        assert "There is no backup at all" in text and "No backup schedule is set" in text
    finally:
        await emu.stop()


@pytest.mark.parametrize(("text", "expected"), [
    ("backend", USAGE), ("backend drop", USAGE), ("nope backups", "I don't know the service"),
    ("web backups", "has no `database_service_id`")])
async def test_usage_errors(make_bot, slack, signer, railway, text, expected):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    assert expected in (await db_env.command(bot, slack, signer, text)).json()["text"]
    assert railway.calls == []


async def test_backup_needs_a_second_person_runs_once_under_concurrent_clicks_and_is_audited(
        db_url, make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), database_url=db_url, **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, 'backend backup --reason "before the migration"')
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "volumeInstanceBackupCreate" in text and "vol-pg-1" in text and "before the migration" in text
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]

    before = len(slack.responses)
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0ANA"))
    refused = await db_env.responses_after(slack, before)
    assert "someone else must approve" in refused[0].payload["text"]
    assert (await actions.get(bot.rt.store, request_id)).status == actions.PENDING

    clicks = [db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, db_env.APPROVERS[i % 4])
              for i in range(20)]
    answers = await asyncio.gather(*(db_env.post(bot.slack_url, c) for c in clicks))
    assert all(a.status_code == 200 for a in answers)
    done = await eventually(lambda: _finished(bot, request_id), timeout=20)
    assert done.status == actions.SUCCEEDED and done.verdict == "done", done.detail
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
    new = railway.world.volume_of("Postgres").backups[-1]
    assert done.detail == new.id and done.params["backup_id"] == new.id
    final = await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                             and "is in Railway's list" in json.dumps(m["blocks"], ensure_ascii=False) and m)
    assert not [b for b in final["blocks"] if b["type"] == "actions"]

    await bot.rt.audit.flush()
    rows = await audit.entries(bot.rt.store)
    story = [(r.kind, r.name, r.user_id, r.outcome) for r in rows]
    assert ("command", "/db", "U0ANA", "requested") in story
    assert sum(1 for s in story if s[1] == ActionId.ROLLBACK_APPROVE.value and s[3] == "approved") == 1
    system = [(r.name, r.outcome, r.subject) for r in rows if r.kind == "system"]
    assert system == [("railway.volumeInstanceBackupCreate", "ok", request_id)]
    kinds = [e.kind for e in await actions.events(bot.rt.store, request_id)]
    assert kinds[:4] == ["requested", "approved", "running", "railway.volumeInstanceBackupCreate.sent"]
    assert "railway.backup.listed" in kinds and kinds[-1] == "succeeded"


async def test_a_second_backup_request_waits_for_the_first(make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    await db_env.request_message(bot, slack, signer, "backend backup")
    before = len(slack.responses)
    await db_env.command(bot, slack, signer, "backend backup", user="U0BOB")
    said = (await db_env.responses_after(slack, before))[0].payload["text"]
    assert "already waiting for approval" in said


async def test_an_ambiguous_railway_answer_is_reported_and_never_retried(make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    railway.inject("server_error", operation="volumeInstanceBackupCreate", status=502)
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, request_id), timeout=20)
    assert done.status == actions.FAILED and done.verdict == "ambiguous"
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
    assert await eventually(lambda: "may or may not have acted" in json.dumps(
        slack.message(db_env.CHANNEL, message["ts"])["blocks"]))


async def test_a_backup_followed_during_a_restart_is_followed_again(make_bot, slack, signer, railway, sqlite_url):
    railway.world.stage_seconds = 1.5  # the backup takes 3 s to appear
    first = await make_bot(db_env.services(), **db_env.settings(railway))
    message = await db_env.request_message(first, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(first.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))

    async def sent():
        req = await actions.get(first.rt.store, request_id)
        return req if "backup_workflow" in req.params else None

    await eventually(sent, timeout=10)
    await first.stop()
    second = await make_bot(db_env.services(), database_url=sqlite_url, **db_env.settings(railway))
    done = await eventually(lambda: _finished(second, request_id), timeout=20)
    assert done.status == actions.SUCCEEDED
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
