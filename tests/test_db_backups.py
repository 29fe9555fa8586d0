"""/db <service> backups and backup: signed requests, the Slack and Railway emulators, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from sandbox.emulators.railway import RailwayEmulator
from sandbox.emulators.railway_world import BackupRecord
from tests import db_env
from tests.conftest import eventually

USAGE = "Usage: `/db backend backups`"


@pytest.fixture
async def railway():
    async with db_env.railway_emulator() as emu:
        yield emu


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
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
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
    # The bot watches the list for the backup's name for the follow time, then says it cannot tell.
    bot = await make_bot(db_env.services(), **{**db_env.settings(railway), "CHATOPS_FOLLOW_TIMEOUT_SECONDS": 2})
    railway.inject("server_error", operation="volumeInstanceBackupCreate", status=502)
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert done.status == actions.FAILED and done.verdict == "ambiguous"
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
    assert await eventually(lambda: "may or may not have acted" in json.dumps(
        slack.message(db_env.CHANNEL, message["ts"])["blocks"]))
    said = json.dumps(slack.message(db_env.CHANNEL, message["ts"])["blocks"])
    assert f"no backup named `chatops {request_id}` appeared" in said


async def test_a_backup_followed_during_a_restart_is_followed_again(make_bot, slack, signer, railway, sqlite_url):
    railway.world.stage_seconds = 1.5  # the backup takes 3 s to appear
    first = await make_bot(db_env.services(), **db_env.settings(railway))
    message = await db_env.request_message(first, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(first.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))

    async def sent():
        req = await actions.get(first.rt.store, request_id)
        return req if "backup_workflow" in req.params else None

    await eventually(sent, timeout=30)
    await first.stop()
    second = await make_bot(db_env.services(), database_url=sqlite_url, **db_env.settings(railway))
    done = await eventually(lambda: _finished(second, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1


def _system(rows, request_id) -> list[tuple[str, str]]:
    return [(r.name, r.outcome) for r in rows if r.kind == "system" and r.subject == request_id]


async def _approved_and_sent(bot, slack, signer, railway) -> tuple[dict, str]:
    """Request a backup, approve it, and wait until its mutation has reached the emulator."""
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(lambda: railway.mutations("volumeInstanceBackupCreate"), timeout=30)
    req = await actions.get(bot.rt.store, request_id)
    assert req.status == actions.RUNNING and req.params["backup_sending"] and "backup_workflow" not in req.params
    return message, request_id


async def test_a_backup_sent_before_a_crash_is_never_sent_again_and_is_followed_until_listed(
        db_url, make_bot, slack, signer, railway):
    """Railway makes the backup, the answer never comes back, and the bot dies waiting for it."""
    settings = {**db_env.settings(railway), "CHATOPS_RAILWAY_TIMEOUT_SECONDS": 120}
    first = await make_bot(db_env.services(), database_url=db_url, **settings)
    railway.inject("no_answer", operation="volumeInstanceBackupCreate", delay=300)
    message, request_id = await _approved_and_sent(first, slack, signer, railway)
    made = await eventually(lambda: [b for b in railway.world.volume_of("Postgres").backups
                                     if b.name == f"chatops {request_id}"], timeout=30)
    await first.crash()

    second = await make_bot(db_env.services(), database_url=db_url, **db_env.settings(railway))
    done = await eventually(lambda: _finished(second, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED and done.verdict == "done", (done.verdict, done.detail)
    assert done.detail == made[0].id and done.params["backup_id"] == made[0].id
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1  # looked for, never sent again
    final = await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                             and "is in Railway's list" in json.dumps(m["blocks"]) and m)
    assert made[0].id in json.dumps(final["blocks"])
    thread = [c.params["text"] for c in slack.calls_to("chat.postMessage")
              if c.params.get("thread_ts") == message["ts"]]
    assert any("The bot process running this change stopped" in text for text in thread)

    await second.rt.audit.flush()
    assert _system(await audit.entries(second.rt.store), request_id) == [
        ("db_backup.resumed", "resumed"), ("railway.volumeInstanceBackupCreate", "unanswered"),
        ("railway.volumeInstanceBackupCreate", "listed")]
    kinds = [e.kind for e in await actions.events(second.rt.store, request_id)]
    assert kinds[kinds.index("resumed"):] == ["resumed", "railway.volumeInstanceBackupCreate.unanswered",
                                              "railway.backup.listed", "succeeded"]


async def test_a_backup_lost_before_a_crash_is_not_sent_again_and_the_bot_says_it_cannot_tell(
        make_bot, slack, signer, railway, sqlite_url):
    """The mutation leaves, nothing happens on Railway and nothing answers; the bot dies waiting."""
    settings = {**db_env.settings(railway), "CHATOPS_RAILWAY_TIMEOUT_SECONDS": 120}
    first = await make_bot(db_env.services(), **settings)
    railway.inject("hang", operation="volumeInstanceBackupCreate", delay=300)
    message, request_id = await _approved_and_sent(first, slack, signer, railway)
    await first.crash()

    second = await make_bot(db_env.services(), database_url=sqlite_url,
                            **{**db_env.settings(railway), "CHATOPS_FOLLOW_TIMEOUT_SECONDS": 2})
    done = await eventually(lambda: _finished(second, request_id), timeout=30)
    assert done.status == actions.FAILED and done.verdict == "unknown"
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
    assert [b.id for b in railway.world.volume_of("Postgres").backups] == ["bk-manual", "bk-daily"]
    said = await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                            and "can't tell whether Railway made it" in (t := json.dumps(m["blocks"])) and t)
    assert f"chatops {request_id}" in said and "I did not send it again" in said
    await second.rt.audit.flush()
    assert _system(await audit.entries(second.rt.store), request_id) == [
        ("db_backup.resumed", "resumed"), ("railway.volumeInstanceBackupCreate", "unanswered"),
        ("railway.volumeInstanceBackupCreate", "not_listed")]


async def test_a_timed_out_backup_that_railway_made_is_found_by_its_name(make_bot, slack, signer, railway):
    """No crash: the bot's own timeout fires while Railway has acted; the backup is found, not re-sent."""
    bot = await make_bot(db_env.services(), **{**db_env.settings(railway), "CHATOPS_RAILWAY_TIMEOUT_SECONDS": 1})
    railway.inject("no_answer", operation="volumeInstanceBackupCreate", delay=30)
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED, (done.verdict, done.detail)
    assert done.detail == railway.world.volume_of("Postgres").backups[-1].id
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
    await bot.rt.audit.flush()
    assert _system(await audit.entries(bot.rt.store), request_id) == [
        ("railway.volumeInstanceBackupCreate", "error"), ("railway.volumeInstanceBackupCreate", "listed")]


async def test_a_scheduled_backup_finishing_meanwhile_is_not_taken_for_the_requested_one(
        make_bot, slack, signer, railway):
    railway.world.stage_seconds = 1.0  # the requested backup takes 2 s to be listed
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(lambda: railway.mutations("volumeInstanceBackupCreate"), timeout=30)
    railway.world.volume_of("Postgres").backups.append(BackupRecord(  # the daily schedule's run lands first
        id="bk-scheduled", name="Daily", created_at=time.time(), schedule_id="sched-daily"))
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert done.detail != "bk-scheduled" and done.detail == railway.world.volume_of("Postgres").backups[-2].id


async def test_a_replica_starting_beside_one_that_runs_a_backup_leaves_it_alone(pg_url, make_bot, slack, signer,
                                                                                 railway):
    """A deploy's overlap: a second replica starts (and resumes what is unfinished) while the first is
    waiting for Railway's answer. It waits for the first one's lease instead of taking the backup up."""
    config = db_env.services() + "\n[monitor]\nenabled = false\nlease_seconds = 3\n"
    settings = {**db_env.settings(railway), "CHATOPS_RAILWAY_TIMEOUT_SECONDS": 60}
    first = await make_bot(config, database_url=pg_url, **settings)
    railway.inject("no_answer", operation="volumeInstanceBackupCreate", delay=6)  # then a 504: ambiguous
    message, request_id = await _approved_and_sent(first, slack, signer, railway)
    second = await make_bot(config, database_url=pg_url, **settings)
    waiting = [task for task in second.rt.tasks if task.get_name() == f"db_backup-{request_id}"]
    assert waiting and not waiting[0].done()  # it resumed the request: it waits for the lease

    done = await eventually(lambda: _finished(first, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED, (done.verdict, done.detail)
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)  # saw it end, and did nothing
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
    await first.rt.audit.flush()
    await second.rt.audit.flush()
    assert _system(await audit.entries(first.rt.store), request_id) == [
        ("railway.volumeInstanceBackupCreate", "error"), ("railway.volumeInstanceBackupCreate", "listed")]
    kinds = [e.kind for e in await actions.events(first.rt.store, request_id)]
    assert "resumed" not in kinds
    assert not [c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == message["ts"]]
