"""A /db change while the bot's own database stops answering (PostgreSQL, signed requests, emulators).

The database is made not to answer in time at one precise step: a trigger holds the step's UPDATE of
``action_requests`` past the bot's statement timeout, which PostgreSQL then cancels (SQLSTATE 57014),
the way a hung or overloaded server answers. Dropping the trigger brings the database back.
"""

from __future__ import annotations

import json

import asyncpg
import pytest

from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from tests import db_env
from tests.conftest import eventually

DB_TIMEOUT = {"CHATOPS_DB_TIMEOUT_SECONDS": 1}


@pytest.fixture
async def railway():
    async with db_env.railway_emulator() as emu:
        yield emu


async def _hold_updates(pg_url: str, when: str) -> None:
    """From now on, an UPDATE of a request that matches ``when`` outlasts the bot's statement timeout."""
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("CREATE FUNCTION t_hold() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(30); "
                           "RETURN NEW; END $$ LANGUAGE plpgsql")
        await conn.execute(f"CREATE TRIGGER t_hold BEFORE UPDATE ON action_requests FOR EACH ROW WHEN ({when}) "
                           "EXECUTE FUNCTION t_hold()")
    finally:
        await conn.close()


async def _answer_again(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("DROP TRIGGER t_hold ON action_requests")
    finally:
        await conn.close()


async def _approved(bot, slack, signer) -> tuple[dict, str]:
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    return message, request_id


def _thread(slack, message: dict) -> list[str]:
    return [c.params["text"] for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == message["ts"]]


async def _told(slack, message: dict, phrase: str) -> str:
    return await eventually(lambda: next((text for text in _thread(slack, message) if phrase in text), None),
                            timeout=30)


async def _final(bot, request_id: str):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


async def _system(bot, request_id: str) -> list[tuple[str, str]]:
    await bot.rt.audit.flush()
    return [(r.name, r.outcome) for r in await audit.entries(bot.rt.store)
            if r.kind == "system" and r.subject == request_id]


async def test_a_backup_whose_next_step_cannot_be_recorded_pauses_says_so_and_carries_on_once(
        pg_url, make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), database_url=pg_url, **db_env.settings(railway), **DB_TIMEOUT)
    # The step before the mutation: recording that the backup is being sent.
    await _hold_updates(pg_url, "NEW.params::text LIKE '%backup_sending%'")
    message, request_id = await _approved(bot, slack, signer)

    said = await _told(slack, message, "Paused")
    assert "carry on from its last recorded step" in said and "Traceback" not in said
    assert railway.mutations() == []  # nothing is sent without its record
    assert (await actions.get(bot.rt.store, request_id)).status == actions.RUNNING  # and not left as if done

    await _answer_again(pg_url)
    done = await eventually(lambda: _final(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED and done.verdict == "done", (done.verdict, done.detail)
    assert len(railway.mutations("volumeInstanceBackupCreate")) == 1
    assert done.detail == railway.world.volume_of("Postgres").backups[-1].id
    assert not [text for text in _thread(slack, message) if "process running this change stopped" in text]  # it did not
    assert await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                            and "is in Railway's list" in json.dumps(m["blocks"]))
    assert await _system(bot, request_id) == [("db_backup.paused", "store_unavailable"),
                                              ("railway.volumeInstanceBackupCreate", "ok")]


async def test_a_backup_that_cannot_be_recorded_as_started_never_starts(pg_url, make_bot, slack, signer, railway):
    bot = await make_bot(db_env.services(), database_url=pg_url, **db_env.settings(railway), **DB_TIMEOUT)
    await _hold_updates(pg_url, "OLD.status = 'approved' AND NEW.status = 'running'")
    message, request_id = await _approved(bot, slack, signer)

    said = await _told(slack, message, "Not started")
    assert "Nothing was sent" in said
    await _answer_again(pg_url)
    done = await eventually(lambda: _final(bot, request_id), timeout=30)
    assert done.status == actions.INTERRUPTED and "was not started" in done.detail
    assert await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                            and "was not started" in json.dumps(m["blocks"]))
    assert railway.mutations() == []
    assert await _system(bot, request_id) == [("db_backup", "not_sent")]
    # A later click on the old buttons starts nothing.
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0MAY"))
    assert (await actions.get(bot.rt.store, request_id)).status == actions.INTERRUPTED
    assert railway.mutations() == []


async def test_a_request_whose_message_cannot_be_recorded_stands_and_is_recorded_when_the_database_answers(
        pg_url, make_bot, slack, signer, railway):
    """Posted, with its buttons, but the database does not take where: the request stands (its buttons
    carry its id), the record is retried, and from then on its message shows its progress."""
    bot = await make_bot(db_env.services(), database_url=pg_url, **db_env.settings(railway), **DB_TIMEOUT)
    await _hold_updates(pg_url, "OLD.message_ts IS NULL AND NEW.message_ts IS NOT NULL")
    before = len(slack.responses)
    message = await db_env.request_message(bot, slack, signer, "backend backup")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    assert await eventually(lambda: _command_outcomes(bot)) == ["requested"]
    answers = json.dumps([r.payload for r in slack.responses[before:]])
    assert "could not be recorded" not in answers  # the request was posted: nobody is told it failed
    assert (await actions.get(bot.rt.store, request_id)).message_ts is None

    await _answer_again(pg_url)
    recorded = await eventually(lambda: _where(bot, request_id), timeout=30)
    assert recorded == (db_env.CHANNEL, message["ts"])
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _final(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED
    assert await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                            and "is in Railway's list" in json.dumps(m["blocks"]))


async def _where(bot, request_id: str) -> tuple[str, str] | None:
    req = await actions.get(bot.rt.store, request_id)
    return (req.channel_id, req.message_ts) if req.message_ts else None


async def _command_outcomes(bot) -> list[str] | None:
    """The /db command's audit outcomes, once none is still just 'received'."""
    await bot.rt.audit.flush()
    outcomes = [r.outcome for r in await audit.entries(bot.rt.store) if r.name == "/db"]
    return outcomes if outcomes and "received" not in outcomes else None
