"""/db <service> restore: the typed-name modal (views.open, view_submission), a fresh backup first, and a
real restore of a real PostgreSQL database by the Railway emulator."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from bot.slack.action_ids import ActionId, ViewId
from bot.store import actions, audit
from sandbox.emulators.railway import RailwayEmulator
from tests import db_env
from tests.conftest import eventually


async def _rows(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["item"] for r in await conn.fetch("SELECT item FROM orders ORDER BY id")]
    finally:
        await conn.close()


async def _insert(dsn: str, *items: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany("INSERT INTO orders (item) VALUES ($1)", [(i,) for i in items])
    finally:
        await conn.close()


@pytest.fixture
async def target_db(pg_url):
    conn = await asyncpg.connect(pg_url)
    await conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)")
    await conn.close()
    await _insert(pg_url, "a", "b", "c")
    return pg_url


@pytest.fixture
async def railway(target_db):
    emu = RailwayEmulator(db_env.world(database_url=target_db), stage_seconds=0.05,
                          databases={db_env.VOLUME: target_db})
    await emu.start()
    yield emu
    await emu.stop()


async def _finished(bot, request_id):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


async def _backup(bot, slack, signer) -> str:
    """A real backup of the three orders, made through /db backup."""
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED, done.detail
    return done.detail


async def _open_modal(bot, slack, signer, message: dict, user: str) -> dict:
    before = len(slack.calls_to("views.open"))
    trigger = slack.issue_trigger()
    click = db_env.click(signer, slack, message, ActionId.DB_RESTORE_APPROVE, user, trigger_id=trigger)
    assert (await db_env.post(bot.slack_url, click)).status_code == 200
    call = (await slack.wait_for(lambda: slack.calls_to("views.open")[before:] or None, timeout=30))[0]
    assert call.ok, call.response
    return slack.view(call.response["view"]["id"])


def _submit(signer, view: dict, typed: str, user: str):
    return signer.view_submission(view, {"confirm": {"service": typed}}, user_id=user)


async def test_restore_needs_the_typed_name_takes_a_fresh_backup_and_loses_only_later_writes(
        make_bot, slack, signer, railway, target_db):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    backup_id = await _backup(bot, slack, signer)
    await _insert(target_db, "d", "e")  # written after the backup: a restore loses them

    message = await db_env.request_message(bot, slack, signer, f"backend restore {backup_id}")
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert backup_id in text and "will be lost" in text and "A fresh backup is taken first" in text
    approve = db_env.button(message, ActionId.DB_RESTORE_APPROVE)
    assert "confirm" not in approve  # the modal is the confirmation
    request_id = approve["value"]

    # The requester cannot open it; an approver gets the modal.
    before = len(slack.responses)
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.DB_RESTORE_APPROVE, "U0ANA",
                                                  trigger_id=slack.issue_trigger()))
    assert "someone else must approve" in (await db_env.responses_after(slack, before))[0].payload["text"]
    view = await _open_modal(bot, slack, signer, message, "U0LEO")
    assert view["callback_id"] == ViewId.DB_RESTORE_CONFIRM and "will be lost" in json.dumps(view["blocks"])

    # A wrong name keeps the modal open with an error on the field, and changes nothing.
    wrong = await db_env.post(bot.slack_url, _submit(signer, view, "backnd", "U0LEO"))
    assert wrong.status_code == 200
    assert wrong.json() == {"response_action": "errors",
                            "errors": {"confirm": "That is not the service's name. Type backend exactly to restore, "
                                                  "or cancel."}}
    assert (await actions.get(bot.rt.store, request_id)).status == actions.PENDING
    assert railway.mutations("volumeInstanceBackupRestore") == []

    # The right name, submitted by four approvers at once: one restore.
    submits = [_submit(signer, view, "backend", db_env.APPROVERS[i % 4]) for i in range(8)]
    answers = await asyncio.gather(*(db_env.post(bot.slack_url, s) for s in submits))
    assert all(a.status_code == 200 and not a.content for a in answers)
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED, done.detail

    creates = railway.mutations("volumeInstanceBackupCreate")
    restores = railway.mutations("volumeInstanceBackupRestore")
    assert len(creates) == 2 and len(restores) == 1  # the first backup, the fresh one; one restore
    assert creates[1].time < restores[0].time and restores[0].variables["volumeInstanceBackupId"] == backup_id
    assert await _rows(target_db) == ["a", "b", "c"]  # what was written after the backup is gone...
    fresh = done.params["fresh_id"]
    assert fresh == done.detail and railway.data.copies[fresh]  # ...and kept in the fresh backup
    final = await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                             and "restored the volume" in json.dumps(m["blocks"]) and m)
    assert not [b for b in final["blocks"] if b["type"] == "actions"]

    await bot.rt.audit.flush()
    rows = await audit.entries(bot.rt.store)
    assert [(r.name, r.outcome) for r in rows if r.kind == "system" and r.subject == request_id] == [
        ("railway.volumeInstanceBackupCreate", "ok"), ("railway.volumeInstanceBackupRestore", "ok")]
    views = [(r.name, r.user_id, r.outcome) for r in rows if r.kind == "view"]
    assert ("db.restore.confirm", "U0LEO", "mismatch") in views
    assert sum(1 for v in views if v[2] == "approved") == 1


async def test_a_restore_cannot_be_approved_without_the_modal(make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, "backend restore bk-daily")
    request_id = db_env.button(message, ActionId.DB_RESTORE_APPROVE)["value"]
    forged = signer.block_actions(ActionId.ROLLBACK_APPROVE.value, request_id, user_id="U0LEO",
                                  channel_id=db_env.CHANNEL, message_ts=message["ts"],
                                  response_url=slack.response_url("actions", channel=db_env.CHANNEL,
                                                                  message_ts=message["ts"]))
    before = len(slack.responses)
    await db_env.post(bot.slack_url, forged)
    said = (await db_env.responses_after(slack, before))[0].payload["text"]
    assert "approved in its confirmation dialog" in said
    assert (await actions.get(bot.rt.store, request_id)).status == actions.PENDING


async def test_an_unknown_backup_is_refused_before_any_request(make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    before = len(slack.responses)
    await db_env.command(bot, slack, signer, "backend restore bk-nope")
    said = (await db_env.responses_after(slack, before))[0].payload["text"]
    assert "`bk-nope` is not one of the backups" in said
    assert slack.calls_to("chat.postMessage") == []


async def test_a_restore_interrupted_by_a_restart_carries_on_from_its_last_known_step(make_bot, slack, signer,
                                                                                      sqlite_url):
    railway = RailwayEmulator(db_env.world(), stage_seconds=1.5)  # the fresh backup takes 3 s to be listed
    await railway.start()
    try:
        first = await make_bot(db_env.services(), **db_env.settings(railway))
        message = await db_env.request_message(first, slack, signer, "backend restore bk-daily")
        request_id = db_env.button(message, ActionId.DB_RESTORE_APPROVE)["value"]
        view = await _open_modal(first, slack, signer, message, "U0LEO")
        await db_env.post(first.slack_url, _submit(signer, view, "backend", "U0LEO"))

        async def fresh_sent():
            req = await actions.get(first.rt.store, request_id)
            return req if "fresh_workflow" in req.params else None

        await eventually(fresh_sent, timeout=30)
        await first.stop()
        second = await make_bot(db_env.services(), database_url=sqlite_url, **db_env.settings(railway))
        done = await eventually(lambda: _finished(second, request_id), timeout=30)
        assert done.status == actions.SUCCEEDED, done.detail
        assert len(railway.mutations("volumeInstanceBackupCreate")) == 1  # the fresh backup, not twice
        restores = railway.mutations("volumeInstanceBackupRestore")
        assert len(restores) == 1 and restores[0].variables["volumeInstanceBackupId"] == "bk-daily"
        assert railway.world.volume_of("Postgres").restored == ["bk-daily"]
    finally:
        await railway.stop()


async def test_a_replica_that_stalled_past_its_lease_sends_nothing_and_the_one_that_took_it_over_restores_once(
        make_bot, slack, signer, pg_url, caplog):
    """The replica running a restore stalls (a frozen container) until its lease runs out and another
    replica takes the change over. When it wakes, the record it writes before sending the restore is
    fenced by the lease: refused, it sends nothing and stops; the other carries the change on, once."""
    config = db_env.services() + "\n[monitor]\nenabled = false\nlease_seconds = 3\n"
    railway = RailwayEmulator(db_env.world(), stage_seconds=1.5)  # the fresh backup takes 3 s to be listed
    await railway.start()
    try:
        first = await make_bot(config, database_url=pg_url, **db_env.settings(railway))
        message = await db_env.request_message(first, slack, signer, "backend restore bk-daily")
        request_id = db_env.button(message, ActionId.DB_RESTORE_APPROVE)["value"]
        view = await _open_modal(first, slack, signer, message, "U0LEO")
        await db_env.post(first.slack_url, _submit(signer, view, "backend", "U0LEO"))
        await eventually(lambda: _params_have(first, request_id, "fresh_workflow"), timeout=30)
        conn = await asyncpg.connect(pg_url)  # while it waits for the fresh backup, another replica takes over
        try:
            taken = await conn.execute("UPDATE leases SET holder = 'replica-elsewhere', expires_at = now() + "
                                       "interval '8 seconds' WHERE name = $1", f"change-{request_id}")
        finally:
            await conn.close()
        assert taken == "UPDATE 1"
        await eventually(lambda: [r for r in caplog.records if "took its lease over" in r.getMessage()]
                         or railway.mutations("volumeInstanceBackupRestore"), timeout=30)  # it stopped, or sent
        assert railway.mutations("volumeInstanceBackupRestore") == []  # the stalled one sent nothing
        assert "restore_sending" not in (await actions.get(first.rt.store, request_id)).params

        second = await make_bot(config, database_url=pg_url, **db_env.settings(railway))  # carries it on
        done = await eventually(lambda: _finished(second, request_id), timeout=60)
        assert done.status == actions.SUCCEEDED, (done.verdict, done.detail)
        assert len(railway.mutations("volumeInstanceBackupCreate")) == 1  # one fresh backup
        assert len(railway.mutations("volumeInstanceBackupRestore")) == 1  # one restore
        assert railway.world.volume_of("Postgres").restored == ["bk-daily"]
    finally:
        await railway.stop()


async def test_an_expired_trigger_is_told_to_click_again(make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, "backend restore bk-daily")
    before = len(slack.responses)
    forged = "123456789012.1000.0123456789abcdef0123456789abcdef"  # a trigger Slack never issued
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.DB_RESTORE_APPROVE, "U0LEO",
                                                  trigger_id=forged))
    said = (await db_env.responses_after(slack, before))[0].payload["text"]
    assert "couldn't open the confirmation dialog" in said
    assert slack.calls_to("views.open")[-1].response["error"] == "invalid_trigger_id"


def _system(rows, request_id) -> list[tuple[str, str]]:
    return [(r.name, r.outcome) for r in rows if r.kind == "system" and r.subject == request_id]


async def _approved_restore(bot, slack, signer, backup_id: str) -> tuple[dict, str]:
    message = await db_env.request_message(bot, slack, signer, f"backend restore {backup_id}")
    request_id = db_env.button(message, ActionId.DB_RESTORE_APPROVE)["value"]
    view = await _open_modal(bot, slack, signer, message, "U0LEO")
    await db_env.post(bot.slack_url, _submit(signer, view, "backend", "U0LEO"))
    return message, request_id


async def _params_have(bot, request_id: str, key: str):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.params.get(key) else None


async def test_a_restore_answered_before_a_crash_is_followed_to_its_end_and_never_sent_again(
        make_bot, slack, signer, railway, target_db, sqlite_url):
    first = await make_bot(db_env.services(), **db_env.settings(railway))
    backup_id = await _backup(first, slack, signer)
    await _insert(target_db, "d", "e")
    railway.world.hold_restores = True  # Railway is still restoring when the bot dies
    message, request_id = await _approved_restore(first, slack, signer, backup_id)
    running = await eventually(lambda: _params_have(first, request_id, "restore_workflow"), timeout=30)
    assert running.status == actions.RUNNING
    await first.crash()

    second = await make_bot(db_env.services(), database_url=sqlite_url, **db_env.settings(railway))
    await eventually(lambda: _resumed(second, request_id), timeout=30)
    assert (await actions.get(second.rt.store, request_id)).status == actions.RUNNING  # still following
    railway.world.release_restores()
    done = await eventually(lambda: _finished(second, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED and done.verdict == "done", (done.verdict, done.detail)
    assert done.detail == done.params["fresh_id"] == running.params["fresh_id"]
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 2  # the first backup, one fresh backup
    assert len(railway.mutations("volumeInstanceBackupRestore")) == 1
    assert await _rows(target_db) == ["a", "b", "c"]
    assert await eventually(lambda: "restored the volume" in json.dumps(
        slack.message(db_env.CHANNEL, message["ts"])["blocks"]))
    await second.rt.audit.flush()
    assert _system(await audit.entries(second.rt.store), request_id) == [
        ("railway.volumeInstanceBackupCreate", "ok"), ("railway.volumeInstanceBackupRestore", "ok"),
        ("db_restore.resumed", "resumed")]


async def _resumed(bot, request_id: str) -> bool:
    return any(e.kind == "resumed" for e in await actions.events(bot.rt.store, request_id))


async def test_a_restore_sent_without_an_answer_before_a_crash_is_not_sent_again_and_is_reported_unknown(
        make_bot, slack, signer, railway, target_db, sqlite_url):
    first = await make_bot(db_env.services(), **{**db_env.settings(railway), "CHATOPS_RAILWAY_TIMEOUT_SECONDS": 120})
    backup_id = await _backup(first, slack, signer)
    await _insert(target_db, "d", "e")
    railway.inject("no_answer", operation="volumeInstanceBackupRestore", delay=300)
    message, request_id = await _approved_restore(first, slack, signer, backup_id)
    await eventually(lambda: railway.mutations("volumeInstanceBackupRestore"), timeout=30)
    sent = await _params_have(first, request_id, "restore_sending")
    assert sent and "restore_workflow" not in sent.params
    await first.crash()

    second = await make_bot(db_env.services(), database_url=sqlite_url, **db_env.settings(railway))
    done = await eventually(lambda: _finished(second, request_id), timeout=30)
    assert done.status == actions.FAILED and done.verdict == "restore_unknown"
    assert len(railway.mutations("volumeInstanceBackupRestore")) == 1  # never twice
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 2  # no second fresh backup
    said = await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                            and "can't tell whether Railway restored the volume" in (t := json.dumps(m["blocks"]))
                            and t)
    assert sent.params["fresh_id"] in said and "I will not send it again" in said
    await second.rt.audit.flush()
    assert _system(await audit.entries(second.rt.store), request_id) == [
        ("railway.volumeInstanceBackupCreate", "ok"), ("db_restore.resumed", "resumed"),
        ("railway.volumeInstanceBackupRestore", "unanswered")]


async def test_a_fresh_backup_sent_without_an_answer_before_a_crash_is_found_and_the_restore_runs_once(
        make_bot, slack, signer, railway, target_db, sqlite_url):
    first = await make_bot(db_env.services(), **{**db_env.settings(railway), "CHATOPS_RAILWAY_TIMEOUT_SECONDS": 120})
    backup_id = await _backup(first, slack, signer)
    await _insert(target_db, "d", "e")
    railway.inject("no_answer", operation="volumeInstanceBackupCreate", delay=300)
    _, request_id = await _approved_restore(first, slack, signer, backup_id)
    await eventually(lambda: len(railway.mutations("volumeInstanceBackupCreate")) == 2, timeout=30)
    await eventually(lambda: [b for b in railway.world.volume_of("Postgres").backups
                              if b.name == f"chatops before restore {request_id}" and b.id in railway.data.copies],
                     timeout=30)
    await first.crash()

    second = await make_bot(db_env.services(), database_url=sqlite_url, **db_env.settings(railway))
    done = await eventually(lambda: _finished(second, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED, (done.verdict, done.detail)
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 2  # the fresh backup was found, not re-sent
    restores = railway.mutations("volumeInstanceBackupRestore")
    assert len(restores) == 1 and restores[0].variables["volumeInstanceBackupId"] == backup_id
    fresh = railway.world.volume_of("Postgres").backups[-1]
    assert fresh.name == f"chatops before restore {request_id}" and done.detail == fresh.id
    assert await _rows(target_db) == ["a", "b", "c"]
    await second.rt.audit.flush()
    assert _system(await audit.entries(second.rt.store), request_id) == [
        ("db_restore.resumed", "resumed"), ("railway.volumeInstanceBackupCreate", "unanswered"),
        ("railway.volumeInstanceBackupCreate", "listed"), ("railway.volumeInstanceBackupRestore", "ok")]


async def test_a_late_submission_is_answered_privately_and_by_dm_when_slack_refuses_that(make_bot, slack, signer,
                                                                                        railway):
    """A modal's submission has no response_url: the answer goes to the person where they clicked, else
    to their DM, and only an answer that lands nowhere is audited as failed."""
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, "backend restore bk-daily")
    request_id = db_env.button(message, ActionId.DB_RESTORE_APPROVE)["value"]
    view = await _open_modal(bot, slack, signer, message, "U0LEO")
    await db_env.post(bot.slack_url, _submit(signer, view, "backend", "U0LEO"))
    await eventually(lambda: _finished(bot, request_id), timeout=30)

    late = db_env.APPROVERS[1]
    before = len(slack.calls_to("chat.postEphemeral"))
    await db_env.post(bot.slack_url, _submit(signer, view, "backend", late))
    told = (await slack.wait_for(lambda: slack.calls_to("chat.postEphemeral")[before:] or None, timeout=30))[0]
    assert told.ok and told.params["channel"] == db_env.CHANNEL and told.params["user"] == late
    assert "This request is already" in told.params["text"]

    later = db_env.APPROVERS[2]
    slack.fail("chat.postEphemeral", "channel_not_found")
    await db_env.post(bot.slack_url, _submit(signer, view, "backend", later))
    dm = (await slack.wait_for(lambda: [c for c in slack.calls_to("chat.postMessage")
                                        if c.params.get("channel") == later] or None, timeout=30))[0]
    assert dm.ok and "This request is already" in dm.params["text"]

    await bot.rt.audit.flush()
    assert not [r for r in await audit.entries(bot.rt.store) if r.name == "response_url"]  # both landed

    last = db_env.APPROVERS[3]  # Slack refuses the ephemeral and the DM: audited, saying why
    slack.fail("chat.postEphemeral", "channel_not_found")
    slack.fail("chat.postMessage", "channel_not_found", channel=last)
    await db_env.post(bot.slack_url, _submit(signer, view, "backend", last))
    failed = await eventually(lambda: _response_url_rows(bot), timeout=30)
    assert [(r.outcome, r.user_id) for r in failed] == [("failed", last)]
    assert failed[0].detail.startswith("a modal's submission has no response_url; fallback: ")


async def _response_url_rows(bot) -> list:
    await bot.rt.audit.flush()
    return [r for r in await audit.entries(bot.rt.store) if r.name == "response_url"]
