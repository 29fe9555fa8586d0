"""Alerts in Slack: the proposal to resolve an incident once every alert on it has resolved."""

from __future__ import annotations

from bot.i18n import slack_escape, t
from bot.render.incident import MAX_TEXT, _button, _clip, _resolve_confirm, _section
from bot.slack.action_ids import ActionId
from bot.store.incidents import Incident

# How each source is named on the timeline (a fixed word, never taken from the payload).
SOURCE_NAMES = {"alertmanager": "Alertmanager", "uptimerobot": "UptimeRobot", "generic": "generic"}


def resolution_message(inc: Incident, alerts: int) -> tuple[str, list[dict]]:
    """Like the monitor's proposal: the same Resolve button (with its confirm), decided by a person."""
    lang = inc.lang
    text = _clip(t("alerts.proposal", lang, ref=inc.ref, service=slack_escape(inc.service), n=alerts), MAX_TEXT)
    return text, [_section(text), {"type": "actions", "block_id": f"incident-alerts-{inc.id}", "elements": [
        _button(t("incident.button.resolve", lang), ActionId.INCIDENT_RESOLVE, str(inc.id), style="primary",
                confirm=_resolve_confirm(inc, lang))]}]
