"""Action ids of every button and callback ids of every modal, in one place (Slack routes by these)."""

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


class ViewId(StrEnum):
    """Callback ids of the modals the bot opens (Slack routes their submissions by these)."""

    DB_RESTORE_CONFIRM = "db.restore.confirm"
