"""What a chart shows, as plain data: built by the domains (in the reader's language), drawn by the worker.

Every label passes through ``redact`` when the spec is built, so a value read from Railway or a log
never reaches a picture with a secret in it. Series are capped (``MAX_POINTS``): drawing time and
memory stay bounded whatever a caller hands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.common.redact import redact

MAX_POINTS = 720  # a point every 5 s over an hour
MAX_SERIES = 8
MAX_PANELS = 3
MAX_MARKERS = 12
MAX_LABEL = 80
MAX_ALT_TEXT = 1000  # files.getUploadURLExternal: alt_txt_too_large beyond 1000 characters

Points = list[tuple[float, float]]  # (Unix time, value)


def _label(text: str) -> str:
    return redact(text)[:MAX_LABEL]


@dataclass(frozen=True)
class Series:
    label: str
    points: Points

    def to_json(self) -> dict[str, Any]:
        points = self.points[-MAX_POINTS:]
        return {"label": _label(self.label), "points": [[float(t), float(v)] for t, v in points]}


@dataclass(frozen=True)
class Line:
    """A horizontal line across a panel (a threshold)."""

    value: float
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"value": float(self.value), "label": _label(self.label)}


@dataclass(frozen=True)
class Marker:
    """A vertical line at a moment (a deploy, a rollback)."""

    at: float
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"at": float(self.at), "label": _label(self.label)}


@dataclass(frozen=True)
class Panel:
    title: str
    y_label: str
    series: tuple[Series, ...]
    lines: tuple[Line, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"title": _label(self.title), "y_label": _label(self.y_label),
                "series": [s.to_json() for s in self.series[:MAX_SERIES]],
                "lines": [line.to_json() for line in self.lines[:MAX_SERIES]]}


@dataclass(frozen=True)
class ChartSpec:
    title: str
    x_label: str
    panels: tuple[Panel, ...]
    alt_text: str  # what the picture shows, for screen readers (files.getUploadURLExternal ``alt_txt``)
    caption: str = ""  # the sentence posted with it (the trend, in words)
    markers: tuple[Marker, ...] = field(default=())
    filename: str = "chart.png"

    def to_json(self) -> dict[str, Any]:
        return {"title": _label(self.title), "x_label": _label(self.x_label),
                "panels": [p.to_json() for p in self.panels[:MAX_PANELS]],
                "markers": [m.to_json() for m in self.markers[-MAX_MARKERS:]]}

    @property
    def alt(self) -> str:
        return redact(self.alt_text)[:MAX_ALT_TEXT]

    @property
    def comment(self) -> str:
        return redact(self.caption)

    def has_data(self) -> bool:
        return any(s.points for p in self.panels for s in p.series)
