"""Action ids of every button, in one place (Slack routes clicks by these)."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    HEALTH_RECHECK = "health.recheck"
    DIAGNOSE_RUN = "diagnose.run"
    ROLLBACK_APPROVE = "rollback.approve"
    ROLLBACK_REJECT = "rollback.reject"
    INCIDENT_RESOLVE = "incident.resolve"
    PLAYBOOK_ACTION = "playbook.action"
    INCIDENT_ROLLBACK = "incident.rollback"
    INCIDENT_ACK = "incident.ack"
    LOGS_MORE = "logs.more"
    PUBLIC_UPDATE_APPROVE = "public_update.approve"
    PUBLIC_UPDATE_REJECT = "public_update.reject"
    HOME_APPROVE = "home.approve"
    HOME_REJECT = "home.reject"
    DB_RESTORE_APPROVE = "db.restore.approve"
