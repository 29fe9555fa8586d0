"""Alerts in Slack: the proposal to resolve an incident once every alert on it has resolved."""

from __future__ import annotations

from bot.i18n import slack_escape, t
from bot.incidents.render import resolution_proposal
from bot.store.incidents import Incident

# How each source is named on the timeline (a fixed word, never taken from the payload).
SOURCE_NAMES = {"alertmanager": "Alertmanager", "uptimerobot": "UptimeRobot", "generic": "generic"}


def resolution_message(inc: Incident, alerts: int) -> tuple[str, list[dict]]:
    """Like the monitor's proposal: the same Resolve button (with its confirm), decided by a person."""
    text = t("alerts.proposal", inc.lang, ref=inc.ref, service=slack_escape(inc.service), n=alerts)
    return resolution_proposal(inc, text, f"incident-alerts-{inc.id}")
