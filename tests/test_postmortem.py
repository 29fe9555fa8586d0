"""The postmortem draft and the final summary, from a recorded incident with known moments: what
incident-summaries.md requires (timeline, TTD/TTM/TTR with their formulas, impact, actions, cause,
follow-ups, a trigger candidate, the parts left for people), in both languages, with no secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.incidents.policy import Durations, WatchSettings, durations
from bot.incidents.render import IncidentView, final_summary_message, postmortem_markdown
from bot.store import Store
from bot.store import incidents as store
from bot.store.migrate import upgrade_async
from bot.store.models import Event
from tests.test_incidents_outage import texts

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NAMES = {"U0ANA": "Ana Pérez", "U0BOB": "Bob Stone"}
SECRET = "s3cretpassw0rd"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def recorded(sqlite_url):
    """INC-1: a deploy at 14:00 breaks the database pool at 14:02; rolled back; resolved at 14:40."""
    await upgrade_async(sqlite_url)
    db = Store(sqlite_url)
    opened = await store.open_incident(
        db, service="backend", title="database down", severity="sev2", source="monitor", lang="en",
        impact={"reason": "db_down_now", "verdict": "degraded", "n": 9,
                "args": {"path": "/api/system/diagnostics", "detail": "database=FAIL"}},
        impact_started_at=at(2), detected_at=at(3), symptom="db", probe_failed=True)
    iid = opened.incident.id
    async with db.session() as session:  # declared when the record says, not when this test ran
        await session.execute(update(Event).where(Event.subject_id == str(iid)).values(at=at(3) + timedelta(seconds=5)))
    timeline = [
        (at(3.1), "playbooks", None, {"names": "db", "problems": 1}),
        (at(5), "acknowledged", "U0ANA", {}),
        (at(6), "change_requested", "U0ANA", {"request": "r-1", "action": "rollback", "target": "dep-41",
                                              "commit": "1a2b3c4", "reason": "pool errors since dep-42"}),
        (at(7), "change_approved", "U0BOB", {"request": "r-1", "action": "rollback", "target": "dep-41",
                                             "commit": "1a2b3c4"}),
        (at(8), "note", "U0ANA", {"text": f"pool exhausted right after the deploy; DATABASE_URL=postgres://app:{SECRET}@db"}),
        (at(9), "change_executed", None, {"request": "r-1", "action": "rollback", "target": "dep-41",
                                          "commit": "1a2b3c4", "deployment": "dep-43", "status": "SUCCESS"}),
        (at(10), "change_verified", None, {"request": "r-1", "action": "rollback", "target": "dep-41",
                                           "commit": "1a2b3c4", "deployment": "dep-43", "healthy": True,
                                           "detail": "3 endpoints healthy"}),
        (at(10), "mitigated", "U0BOB", {"how": "change", "action": "rollback", "request": "r-1", "target": "dep-41",
                                        "commit": "1a2b3c4", "deployment": "dep-43", "requested_by": "U0ANA",
                                        "approved_by": "U0BOB", "verified_at": at(10).isoformat()}),
        (at(20), "followup", "U0BOB", {"text": "alert on database connection errors, not only on /ready"}),
        (at(40), "resolved", "U0ANA", {"cause": "dep-42 set DB_POOL_SIZE=1"}),
    ]
    for when, kind, actor, data in timeline:
        await store.add_event(db, iid, kind, actor=actor, data=data, at=when)
    findings = [{"playbook": "db", "verdict": "problem", "cause": "PostgreSQL refuses connections (too many clients)",
                 "remediation": ["Raise DB_POOL_SIZE back to 10 and redeploy."]}]
    deployment = {"id": "dep-42", "status": "SUCCESS", "commit_hash": "9f8e7d6c5b4a", "branch": "main",
                  "commit_message": "feat: read the pool size from env", "created_at": at(0).isoformat()}
    await store.set_fields(db, iid, status="resolved", declared_at=at(3) + timedelta(seconds=5),
                           acknowledged_at=at(5), mitigated_at=at(10), impact_ended_at=at(10), resolved_at=at(40),
                           resolved_by="U0ANA", commander="U0ANA", cause="dep-42 set DB_POOL_SIZE=1",
                           findings=findings, deployment=deployment, channel_id="C0INC")
    inc = await store.get(db, iid)
    events = await store.timeline(db, iid)
    yield inc, events
    await db.dispose()


def view_of(inc, events, lang: str) -> IncidentView:
    inc.lang = lang
    return IncidentView(inc, events, at(45), WatchSettings(interval_seconds=60, failures_to_open=2),
                        names=NAMES, channel_name="#inc-20261127-backend-db-down-now")


def test_durations_follow_the_definitions():
    class Moments:
        impact_started_at, detected_at, declared_at = at(2), at(3), at(3)
        acknowledged_at, mitigated_at, impact_ended_at, resolved_at = None, at(10), at(10), at(40)

    assert durations(Moments) == Durations(ttd=60, tta=None, ttm=480, ttm_after_detection=420, ttr=2280,
                                           impact=480, incident=2220)
    Moments.mitigated_at = at(1)  # before the impact started: out of order, so n/a rather than a guess
    assert durations(Moments).ttm is None and durations(Moments).ttm_after_detection is None


async def test_postmortem_draft_has_what_a_postmortem_needs(recorded):
    inc, events = recorded
    draft = postmortem_markdown(view_of(inc, events, "en"))
    for heading in ("# Postmortem (draft): INC-1", "## Summary", "## Impact", "## Key moments and durations (UTC)",
                    "## Detection", "## Trigger", "## Root cause and contributing factors",
                    "## Response and resolution", "## Timeline (UTC)", "## Action items", "## Lessons learned",
                    "## Messaging", "## Supporting information"):
        assert heading in draft, heading
    assert "| Time to detect (TTD) | 1 min | detected − impact started |" in draft
    assert "| Time to acknowledge | 2 min | acknowledged − detected |" in draft
    assert "| Time to mitigate (TTM) | 8 min | mitigated − impact started |" in draft
    assert "| Time to mitigate after detection | 7 min | mitigated − detected |" in draft
    assert "| Time to resolve (TTR) | 38 min | resolved − impact started |" in draft
    assert "| Impact duration | 8 min | impact ended − impact started |" in draft
    assert "| Impact started | 2026-11-27 14:02 UTC |" in draft
    # the trigger candidate: the deploy two minutes before the impact, for a person to confirm
    assert "`dep-42` SUCCESS · commit `9f8e7d6`" in draft and "2 min before the impact started" in draft
    # actions with who and when, by name; the stated cause; hypotheses; follow-ups as action items
    assert "- 2026-11-27 14:06 UTC, Ana Pérez: Rollback to dep-41 (commit 1a2b3c4) requested (request r-1)" in draft
    assert "- 2026-11-27 14:07 UTC, Bob Stone: Rollback to dep-41 (commit 1a2b3c4) approved (request r-1)" in draft
    assert "Rollback to dep-41 (commit 1a2b3c4) executed: Railway deployment dep-43 is live" in draft
    assert "Verified healthy after the rollback (deployment dep-43): 3 endpoints healthy" in draft
    # the mitigation is attributed, by name, and TTM runs to the verification
    mitigation = ("Mitigated by rolling back to dep-41 (1a2b3c4), requested by Ana Pérez, approved by Bob Stone, "
                  "verified healthy at 2026-11-27 14:10 UTC")
    assert mitigation in draft.split("## Impact")[0] and mitigation in draft.split("## Timeline")[1]
    assert "`dep-43`" in draft.split("## Supporting information")[1]
    assert "Stated at resolution: dep-42 set DB_POOL_SIZE=1" in draft
    assert "- `db` playbook (problem): PostgreSQL refuses connections (too many clients)" in draft
    assert "| alert on database connection errors, not only on /ready | *(mitigate / prevent / process)* |" in draft
    assert "Raise DB_POOL_SIZE back to 10 and redeploy. (suggested by the `db` playbook)" in draft
    assert draft.count("| 2026-11-27 ") >= len(events)  # every recorded event is a timeline row
    assert "| 2026-11-27 14:03 UTC | the bot | Incident declared (health monitor, SEV2): database down |" in draft
    assert "*(to fill)*" in draft and "Blameless" in draft
    assert SECRET not in draft


async def test_postmortem_draft_in_spanish(recorded):
    inc, events = recorded
    draft = postmortem_markdown(view_of(inc, events, "es"))
    for heading in ("## Resumen", "## Impacto", "## Detección", "## Disparador",
                    "## Causa raíz y factores contribuyentes", "## Línea de tiempo (UTC)", "## Tareas",
                    "## Lecciones aprendidas"):
        assert heading in draft, heading
    assert "| Tiempo de detección (TTD) | 1 min | detectado − inicio del impacto |" in draft
    assert "| Tiempo de resolución (TTR) | 38 min | resuelto − inicio del impacto |" in draft
    assert "| Inicio del impacto | 27/11/2026 14:02 UTC |" in draft
    assert "Bob Stone: Rollback a dep-41 (commit 1a2b3c4) aprobado (solicitud r-1)" in draft
    assert ("Mitigado con un rollback a dep-41 (1a2b3c4), pedido por Ana Pérez, aprobado por Bob Stone, "
            "verificado sano a las 27/11/2026 14:10 UTC") in draft
    assert "*(completar)*" in draft and "(to fill)" not in draft
    assert SECRET not in draft


async def test_final_summary_states_durations_actions_and_cause(recorded):
    inc, events = recorded
    for lang, words in (("en", ("Time to detect: *1 min*", "Time to mitigate: *8 min*", "Time to resolve: *38 min*",
                                 "dep-42 set DB_POOL_SIZE=1", "<@U0BOB> · Rollback to dep-41 (commit 1a2b3c4) approved",
                                 "Mitigated by rolling back to dep-41 (1a2b3c4), requested by <@U0ANA>, "
                                 "approved by <@U0BOB>, verified healthy at <!date^")),
                        ("es", ("Tiempo de detección: *1 min*", "Tiempo de mitigación: *8 min*",
                                "Tiempo de resolución: *38 min*", "dep-42 set DB_POOL_SIZE=1",
                                "<@U0BOB> · Rollback a dep-41 (commit 1a2b3c4) aprobado",
                                "Mitigado con un rollback a dep-41 (1a2b3c4), pedido por <@U0ANA>"))):
        text, blocks = final_summary_message(view_of(inc, events, lang))
        body = texts({"text": text, "blocks": blocks})
        for word in words:
            assert word in body, (lang, word)
        assert SECRET not in body
