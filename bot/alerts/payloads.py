"""Alert payloads from the monitors teams already run, read into one shape (``Alert``).

Each reader follows its tool's documented payload and refuses anything else with ``Malformed`` (a
reason code the route turns into a 400):

- ``alertmanager``: Prometheus Alertmanager's webhook receiver, payload ``"version": "4"``
  (``status``, ``alerts[]`` with ``status``, ``labels``, ``annotations``, ``startsAt``, ``endsAt``,
  ``fingerprint``); https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
- ``uptimerobot``: UptimeRobot's webhook alert contact, sent as POST parameters (form) or as JSON
  with its notification variables (``monitorID``, ``monitorURL``, ``monitorFriendlyName``,
  ``alertType`` 1 = down, 2 = up, 3 = SSL expiry, ``alertTypeFriendlyName``, ``alertDetails``,
  ``alertDuration``, ``alertDateTime``); https://help.uptimerobot.com/en/articles/14498593-webhook-integration
- ``generic``: ``{"service", "status": "firing"|"resolved", "title", "details", "id", "severity"}``
  (``docs/alerts.md``).

Nothing here is trusted: every field is type-checked and clipped; the caller redacts and escapes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from bot.common.json_depth import depth

MAX_DEPTH = 8  # the deepest documented payload (Alertmanager) nests 3 levels
MAX_ALERTS = 100  # per delivery; Alertmanager's ``max_alerts`` bounds a group on its side
MAX_TEXT = 500
FIRING, RESOLVED = "firing", "resolved"
SEVERITIES = {"critical": "sev1", "page": "sev1", "error": "sev2", "warning": "sev2", "info": "sev3",
              "sev1": "sev1", "sev2": "sev2", "sev3": "sev3"}


class Malformed(Exception):
    """The body is not what the source documents; ``code`` names what is wrong (a catalogue key)."""

    def __init__(self, code: str, **variables: object) -> None:
        super().__init__(code)
        self.code = code
        self.variables = variables


class NotAnOutage(Exception):
    """A well-formed notification that is not about an outage (an SSL expiry reminder)."""


@dataclass(frozen=True)
class Alert:
    source: str  # alertmanager | uptimerobot | generic
    status: str  # firing | resolved
    fingerprint: str
    title: str
    details: str = ""
    service: str | None = None  # the service named by the alert (a label, a field)
    host: str | None = None  # or the host of the URL it watches
    severity: str = "sev2"
    started_at: datetime | None = None


# ---- bodies ---------------------------------------------------------------------------------------------


def decode(raw: bytes, content_type: str, *, form_allowed: bool) -> dict:
    """A JSON object, or (when the source may send one) a form, as a dict of strings."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not_utf8") from None
    if form_allowed and content_type == "application/x-www-form-urlencoded":
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if depth(text) > MAX_DEPTH:
        raise Malformed("too_deep", limit=MAX_DEPTH)
    try:
        body = json.loads(text)
    except ValueError:
        raise Malformed("not_json") from None
    if not isinstance(body, dict):
        raise Malformed("not_object")
    return body


def _text(value: object, field: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if value is None or value == "":
        if required:
            raise Malformed("missing", field=field)
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Malformed("wrong_type", field=field)
    return str(value).strip()[:limit]


def _strings(value: object, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise Malformed("wrong_type", field=field)
    return {str(k): v for k, v in value.items()}


def _time(value: str) -> datetime | None:
    """An RFC 3339 time; Go's zero time (``0001-01-01T00:00:00Z``, "not set") and garbage give None."""
    if not value or value.startswith("0001-"):
        return None
    try:
        text = re.sub(r"\.(\d{6})\d+", r".\1", value.replace("Z", "+00:00").replace("z", "+00:00"))
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


# ---- the three sources ------------------------------------------------------------------------------------


def alertmanager(body: dict, service_label: str) -> list[Alert]:
    if str(body.get("version", "")) != "4":
        raise Malformed("version", expected="4")
    items = body.get("alerts")
    if not isinstance(items, list) or not items:
        raise Malformed("missing", field="alerts")
    common = _strings(body.get("commonLabels"), "commonLabels")
    out = []
    for index, item in enumerate(items[:MAX_ALERTS]):
        if not isinstance(item, dict):
            raise Malformed("wrong_type", field=f"alerts[{index}]")
        status = _text(item.get("status") or body.get("status"), f"alerts[{index}].status", required=True)
        if status not in (FIRING, RESOLVED):
            raise Malformed("status", field=f"alerts[{index}].status")
        labels = _strings(item.get("labels"), f"alerts[{index}].labels")
        annotations = _strings(item.get("annotations"), f"alerts[{index}].annotations")
        name = labels.get("alertname", "")
        fingerprint = _text(item.get("fingerprint"), f"alerts[{index}].fingerprint", limit=64) or \
            _digest(*(f"{k}={v}" for k, v in sorted(labels.items())))
        out.append(Alert(
            source="alertmanager", status=status, fingerprint=f"am:{fingerprint}",
            title=(annotations.get("summary") or name or fingerprint)[:MAX_TEXT],
            details=(annotations.get("description") or "")[:MAX_TEXT],
            service=labels.get(service_label) or common.get(service_label),
            severity=SEVERITIES.get(labels.get("severity", "").lower(), "sev2"),
            started_at=_time(_text(item.get("startsAt"), f"alerts[{index}].startsAt"))))
    return out


UPTIMEROBOT_TYPES = {"1": FIRING, "2": RESOLVED}  # 3: SSL certificate expiry, a reminder


def uptimerobot(body: dict, _service_label: str) -> list[Alert]:
    kind = _text(body.get("alertType"), "alertType")
    if kind not in UPTIMEROBOT_TYPES:  # also read the friendly name ("Down", "Up") before refusing
        kind = {"down": "1", "up": "2"}.get(_text(body.get("alertTypeFriendlyName"), "alertTypeFriendlyName")
                                            .lower(), kind)
    if not kind:
        raise Malformed("missing", field="alertType")
    if kind == "3":
        raise NotAnOutage
    if kind not in UPTIMEROBOT_TYPES:
        raise Malformed("status", field="alertType")
    url = _text(body.get("monitorURL"), "monitorURL", required=True)
    monitor = _text(body.get("monitorID"), "monitorID", limit=32)
    started = _text(body.get("alertDateTime"), "alertDateTime")
    return [Alert(
        source="uptimerobot", status=UPTIMEROBOT_TYPES[kind], fingerprint=f"ur:{monitor or _digest(url)}",
        title=_text(body.get("monitorFriendlyName"), "monitorFriendlyName") or url,
        details=_text(body.get("alertDetails"), "alertDetails"), host=host_of(url), severity="sev1",
        started_at=datetime.fromtimestamp(int(started), UTC) if started.isdigit() and len(started) <= 11 else None)]


def host_of(url: str) -> str | None:
    """The host of a monitor's URL; keyword and port monitors may give a bare host."""
    parts = urlsplit(url if "://" in url else f"//{url}")
    try:
        return (parts.hostname or "").lower() or None
    except ValueError:
        return None


def generic(body: dict, _service_label: str) -> list[Alert]:
    service = _text(body.get("service"), "service", required=True, limit=64)
    status = _text(body.get("status"), "status", required=True)
    if status not in (FIRING, RESOLVED):
        raise Malformed("status", field="status")
    title = _text(body.get("title"), "title", required=True, limit=200)
    ident = _text(body.get("id"), "id", limit=64)
    severity = _text(body.get("severity"), "severity").lower()
    if severity and severity not in SEVERITIES:
        raise Malformed("severity", field="severity")
    return [Alert(source="generic", status=status, fingerprint=f"gen:{ident or _digest(service, title)}",
                  title=title, details=_text(body.get("details"), "details"), service=service,
                  severity=SEVERITIES.get(severity, "sev2"))]


Reader = Callable[[dict, str], list[Alert]]
READERS: dict[str, tuple[Reader, bool]] = {  # source → (reader, may the body be a form)
    "alertmanager": (alertmanager, False),
    "uptimerobot": (uptimerobot, True),
    "generic": (generic, False),
}


def read(source: str, raw: bytes, content_type: str, service_label: str) -> list[Alert]:
    """The alerts in a delivery from ``source`` (a key of ``READERS``)."""
    reader, form_allowed = READERS[source]
    return reader(decode(raw, content_type, form_allowed=form_allowed), service_label)
