"""Chart drawing (runs in the chart worker process only): a ChartSpec dict in, PNG bytes out."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
from matplotlib.figure import Figure

# Okabe–Ito: distinguishable with the common colour-vision deficiencies, dark enough on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
THRESHOLD = "#B00020"
MARKER = "#555555"
WIDTH_IN, PANEL_IN, DPI = 6.4, 2.8, 110  # 704 px wide: on a phone, Slack scales it by about half


def draw(spec: dict) -> bytes:
    panels = spec["panels"]
    fig = Figure(figsize=(WIDTH_IN, 1.0 + PANEL_IN * len(panels)), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(spec["title"], fontsize=17, fontweight="bold")
    for ax, panel in zip(axes, panels, strict=True):
        ax.set_title(panel["title"], fontsize=14, loc="left")
        ax.set_ylabel(panel["y_label"], fontsize=13)
        ax.tick_params(labelsize=12)
        ax.grid(True, color="#DDDDDD", linewidth=0.8)
        for i, series in enumerate(panel["series"]):
            xs = [datetime.fromtimestamp(ts, UTC) for ts, _ in series["points"]]
            ys = [v for _, v in series["points"]]
            ax.plot(xs, ys, color=PALETTE[i % len(PALETTE)], linewidth=2.4, label=series["label"],
                    marker="o" if len(xs) < 3 else None)
        for line in panel.get("lines", []):
            ax.axhline(line["value"], color=THRESHOLD, linewidth=2, linestyle="--", label=line["label"])
        values = [v for series in panel["series"] for _, v in series["points"]]
        values += [line["value"] for line in panel.get("lines", [])]
        ax.set_ylim(0, max(values, default=1.0) * 1.15 or 1.0)  # room above the threshold and its label
        for marker in spec.get("markers", []):
            ax.axvline(datetime.fromtimestamp(marker["at"], UTC), color=MARKER, linewidth=1.6, linestyle=":")
        ax.legend(fontsize=11, loc="upper left", framealpha=0.9)
    top = axes[0]
    for marker in spec.get("markers", []):
        top.annotate(marker["label"], xy=(datetime.fromtimestamp(marker["at"], UTC), 1.0),
                     xycoords=("data", "axes fraction"), xytext=(3, -14), textcoords="offset points",
                     fontsize=11, color=MARKER, rotation=0)
    bottom = axes[-1]
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    bottom.set_xlabel(spec["x_label"], fontsize=13)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()
