"""High memory usage (runbook: "High Memory Usage").

Evidence: Railway's metrics for the last hour (memory against its limit, the growth slope between
restarts, CPU against its limit), the recent deployments (crashes) and the logs (floods of Redis
errors, Puppeteer/browser failures, heap exhaustion, the overload protection). The cause names which
of the runbook's four suspects the evidence points to. Redis errors are counted by the address they
name (``playbooks.dependencies``), and a Redis flood points at the redis playbook: restarting the
backend does not bring Redis back, and ioredis reconnects by itself once Redis answers.

A restart shows in the memory series as a sharp drop; a leak is steady growth between drops.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.charts.spec import ChartSpec, Line, Marker, Panel, Series
from bot.railway.models import Deployment, Metrics, MetricSeries
from playbooks import evidence as ev
from playbooks.base import Action, Evidence, Finding, Playbook, PlaybookContext
from playbooks.dependencies import dependencies
from playbooks.evidence import attempt

LIMIT_RATIO = 0.8  # runbook: alert when memory or CPU is over 80 %
REDIS_FLOOD = 50  # Redis error blocks in the lines read
# Boot-time or rare lines that may have scrolled out of the tail (a Redis flood fills the tail itself).
LOG_FILTERS = ("heap", "ENOMEM", "puppeteer", "browser")
_SIGNAL_PATTERNS = {"redis": ("redis_error",), "heap": ("heap_error",), "browser": ("browser_error",),
                    "overload": ("overload", "high_memory")}
_DROP_RATIO = 0.6  # a point below 60 % of the previous one is a restart
_MIN_DROP_GB = 0.05
_MIN_POINTS = 6
_MIN_R2 = 0.8
_MIN_GROWTH_GB = 0.05
_MIN_GROWTH_OF_LIMIT = 0.05


@dataclass(frozen=True)
class Trend:
    restarts: tuple[int, ...]  # Unix times of sharp drops
    slope_gb_per_hour: float | None  # since the last restart
    r2: float | None
    growth_gb: float
    growing_segments: int  # segments (between restarts) with steady growth

    @property
    def steady_growth(self) -> bool:
        return self.growing_segments > 0


def _fit(points: MetricSeries) -> tuple[float, float]:
    """Least-squares slope (per hour) and r² of ``points``."""
    n = len(points)
    xs = [(ts - points[0][0]) / 3600 for ts, _ in points]
    ys = [v for _, v in points]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    if sxx == 0:
        return 0.0, 0.0
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy else 0.0
    return slope, r2


def analyse(series: MetricSeries, limit_gb: float | None) -> Trend:
    segments: list[MetricSeries] = [[]]
    restarts: list[int] = []
    for point in series:
        previous = segments[-1][-1] if segments[-1] else None
        if previous and point[1] < previous[1] * _DROP_RATIO and previous[1] - point[1] >= _MIN_DROP_GB:
            restarts.append(point[0])
            segments.append([])
        segments[-1].append(point)
    threshold = max(_MIN_GROWTH_GB, (limit_gb or 0) * _MIN_GROWTH_OF_LIMIT)
    growing = 0
    for segment in segments:
        if len(segment) >= _MIN_POINTS:
            slope, r2 = _fit(segment)
            if slope > 0 and r2 >= _MIN_R2 and segment[-1][1] - segment[0][1] >= threshold:
                growing += 1
    last = segments[-1]
    if len(last) >= _MIN_POINTS:
        slope, r2 = _fit(last)
        return Trend(tuple(restarts), slope, r2, last[-1][1] - last[0][1], growing)
    return Trend(tuple(restarts), None, None, 0.0, growing)


def _gb(value: float) -> str:
    return f"{value * 1024:.0f} MB" if value < 1 else f"{value:.2f} GB"


def _metrics_evidence(ctx: PlaybookContext, m: Metrics, deployments: list[Deployment] | None) -> tuple[
        list[Evidence], dict[str, Any]]:
    out: list[Evidence] = []
    facts: dict[str, Any] = {}
    usage, limit = Metrics.latest(m.memory_usage_gb), Metrics.latest(m.memory_limit_gb)
    check = ctx.t("memory.check.usage", pct=round(LIMIT_RATIO * 100))
    if usage is None:
        out.append(Evidence(check, ctx.t("memory.seen.no_metrics"), None))
    elif not limit:
        out.append(Evidence(check, ctx.t("memory.seen.usage_no_limit", usage=_gb(usage)), None))
    else:
        ratio = usage / limit
        facts["high"] = ratio > LIMIT_RATIO
        out.append(Evidence(check, ctx.t("memory.seen.usage", usage=_gb(usage), limit=_gb(limit),
                                         pct=round(ratio * 100)), not facts["high"]))
    if m.memory_usage_gb:
        trend = analyse(m.memory_usage_gb, limit)
        facts["trend"] = trend
        check = ctx.t("memory.check.growth")
        if trend.steady_growth:
            hours = None
            if trend.slope_gb_per_hour and limit and usage is not None and trend.slope_gb_per_hour > 0:
                hours = max(0.0, (limit - usage) / trend.slope_gb_per_hour)
            out.append(Evidence(check, ctx.t(
                "memory.seen.growing", slope=_gb(max(trend.slope_gb_per_hour or 0, 0)),
                segments=trend.growing_segments, restarts=len(trend.restarts),
                to_limit=None if hours is None else hours * 3600), False))
        else:
            slope = trend.slope_gb_per_hour
            out.append(Evidence(check, ctx.t("memory.seen.flat", slope=_gb(abs(slope)) if slope is not None else "—",
                                             sign="-" if slope is not None and slope < 0 else "+"), True))
        window_start = int((ctx.now - timedelta(hours=1)).timestamp())
        deploys = [d for d in deployments or [] if d.created_at.timestamp() >= window_start]
        unexplained = max(0, len(trend.restarts) - len(deploys))
        facts["restarts"] = unexplained
        out.append(Evidence(ctx.t("memory.check.restarts"), ctx.t(
            "memory.seen.restarts", n=len(trend.restarts), deploys=len(deploys), unexplained=unexplained),
            unexplained == 0))
    cpu, cpu_limit = m.cpu_usage[-5:], Metrics.latest(m.cpu_limit)
    check = ctx.t("memory.check.cpu", pct=round(LIMIT_RATIO * 100))
    if cpu and cpu_limit:
        mean = sum(v for _, v in cpu) / len(cpu)
        facts["cpu_high"] = mean / cpu_limit > LIMIT_RATIO
        out.append(Evidence(check, ctx.t("memory.seen.cpu", used=f"{mean:.2f}", limit=f"{cpu_limit:g}",
                                         pct=round(mean / cpu_limit * 100)), not facts["cpu_high"]))
    else:
        out.append(Evidence(check, ctx.t("memory.seen.no_metrics"), None))
    return out, facts


def _span(first: Any, last: Any) -> float | None:
    if first.timestamp is None or last.timestamp is None:
        return None
    return (last.timestamp - first.timestamp).total_seconds()


def _chart(ctx: PlaybookContext, m: Metrics, deployments: list[Deployment] | None,
           trend: Trend | None) -> ChartSpec | None:
    """Memory and CPU over the last hour with the 80 % lines and the deploys marked; None without memory data."""
    if not m.memory_usage_gb:
        return None
    limit, cpu_limit = Metrics.latest(m.memory_limit_gb), Metrics.latest(m.cpu_limit)
    pct = round(LIMIT_RATIO * 100)
    memory = Panel(ctx.t("memory.chart.memory"), ctx.t("memory.chart.gb"),
                   (Series(ctx.t("memory.chart.memory_used"), list(m.memory_usage_gb)),),
                   (Line(limit * LIMIT_RATIO, ctx.t("memory.chart.line", pct=pct, limit=_gb(limit))),) if limit else ())
    panels = [memory]
    if m.cpu_usage:
        panels.append(Panel(ctx.t("memory.chart.cpu"), ctx.t("memory.chart.vcpu"),
                            (Series(ctx.t("memory.chart.cpu_used"), list(m.cpu_usage)),),
                            (Line(cpu_limit * LIMIT_RATIO, ctx.t("memory.chart.line", pct=pct,
                                                                 limit=f"{cpu_limit:g} vCPU")),) if cpu_limit else ()))
    start = m.memory_usage_gb[0][0]
    markers = tuple(Marker(d.created_at.timestamp(), ctx.t("memory.chart.deploy", commit=(d.commit_hash or d.id)[:7]))
                    for d in sorted(deployments or [], key=lambda d: d.created_at) if d.created_at.timestamp() >= start)
    slope = trend.slope_gb_per_hour if trend else None
    first, last = m.memory_usage_gb[0][1], m.memory_usage_gb[-1][1]
    caption = ctx.t("memory.chart.caption", service=ctx.service.name,
                    slope=None if slope is None else ("+" if slope >= 0 else "-") + _gb(abs(slope)),
                    now=_gb(last), limit=_gb(limit) if limit else None,
                    pct=round(last / limit * 100) if limit else None)
    alt = ctx.t("memory.chart.alt", service=ctx.service.name, first=_gb(first), last=_gb(last),
                limit=_gb(limit) if limit else None, line=_gb(limit * LIMIT_RATIO) if limit else None,
                deploys=len(markers))
    return ChartSpec(title=ctx.t("memory.chart.title", service=ctx.service.name), x_label=ctx.t("memory.chart.time"),
                     panels=tuple(panels), markers=markers, alt_text=alt, caption=caption,
                     filename=f"{ctx.service.name}-memory.png")


def _deployment_evidence(ctx: PlaybookContext, deployments: list[Deployment]) -> tuple[Evidence, bool]:
    since = ctx.now - timedelta(hours=24)
    crashed = [d for d in deployments if d.status == "CRASHED" and d.created_at >= since]
    check = ctx.t("memory.check.crashes")
    if crashed:
        return Evidence(check, ctx.t("memory.seen.crashed", n=len(crashed), id=crashed[0].id[:8]), False), True
    return Evidence(check, ctx.t("memory.seen.no_crashes", n=len(deployments)), True), False


async def run(ctx: PlaybookContext) -> Finding:
    service = ctx.service.name
    metrics, deployments, logs = await asyncio.gather(
        attempt(lambda: ev.metrics(ctx, 60)), attempt(lambda: ev.deployments(ctx, 10)),
        attempt(lambda: ev.log_scan(ctx, LOG_FILTERS)))
    evidence: list[Evidence] = []
    facts: dict[str, Any] = {}
    if metrics.ok:
        found, facts = _metrics_evidence(ctx, metrics.value, deployments.value if deployments.ok else None)
        evidence += found
    else:
        evidence.append(Evidence(ctx.t("memory.check.metrics"), metrics.error or "", None))
    if deployments.ok:
        item, facts["crashed"] = _deployment_evidence(ctx, deployments.value)
        evidence.append(item)
    else:
        evidence.append(Evidence(ctx.t("memory.check.crashes"), deployments.error or "", None))
    if logs.ok:
        scan, n = logs.value
        to_redis = (await dependencies(ctx)).split(scan)["redis"]
        redis_errors = max(scan.count("redis_error"), sum(e.count for e in to_redis))
        signals = {"redis": redis_errors, "heap": scan.count("heap_error"),
                   "browser": scan.count("browser_error"), "overload": scan.count("overload", "high_memory")}
        facts.update(signals)
        for name, count in signals.items():
            if not count:
                continue
            last = scan.sample(*_SIGNAL_PATTERNS[name])
            span = scan.span_seconds("redis_error") if name == "redis" else None
            if name == "redis" and to_redis and sum(e.count for e in to_redis) >= scan.count("redis_error"):
                last, span = to_redis[0].last, _span(to_redis[0].first, to_redis[0].last)
            bad = count >= REDIS_FLOOD if name == "redis" else True
            evidence.append(Evidence(ctx.t(f"memory.check.log_{name}"), ctx.t(
                f"memory.seen.log_{name}", n=count, span=span, line=last.text if last else ""), not bad))
        if not any(signals.values()):
            evidence.append(Evidence(ctx.t("memory.check.logs"), ctx.t("memory.seen.log_none", n=n), True))
    else:
        evidence.append(Evidence(ctx.t("memory.check.logs"), logs.error or "", None))

    cause, steps, restart = _diagnosis(ctx, facts, service)
    if any(e.ok is False for e in evidence):
        verdict = "problem"
    elif any(e.ok for e in evidence):
        verdict, steps, restart = "ok", [], False
        cause = ctx.t("memory.cause.ok")
    else:
        verdict, restart = "unknown", False
        cause, steps = ctx.t("memory.cause.unknown"), [ctx.t("memory.fix.more_evidence")]
    actions = (Action("restart", service, "memory", "diagnose.action.restart"),) if verdict == "problem" and restart \
        else ()
    chart = (_chart(ctx, metrics.value, deployments.value if deployments.ok else None, facts.get("trend"))
             if metrics.ok else None)
    return Finding("memory", verdict, cause, tuple(evidence), tuple(steps), actions, chart=chart)


def _diagnosis(ctx: PlaybookContext, f: dict[str, Any], service: str) -> tuple[str, list[str], bool]:
    """(cause, steps, offer a restart) for the strongest signal."""
    railway_service = ctx.service.railway.service if ctx.service.railway and ctx.service.railway.service else service

    def step(key: str) -> str:
        return ctx.t(f"memory.fix.{key}", service=railway_service)

    trend: Trend | None = f.get("trend")
    if f.get("heap"):
        return ctx.t("memory.cause.heap"), [step("logs"), step("heap_limit"), step("code"), step("upgrade"),
                                            step("restart")], True
    if f.get("redis", 0) >= REDIS_FLOOD:  # no restart: it does not bring Redis back
        return ctx.t("memory.cause.redis", n=f["redis"], service=service), [
            step("redis"), step("bullmq"), step("redis_reconnects")], False
    if f.get("browser"):
        return ctx.t("memory.cause.browser", n=f["browser"]), [step("code"), step("logs"), step("restart")], True
    if trend and trend.steady_growth:
        return ctx.t("memory.cause.leak"), [step("logs"), step("code"), step("restart")], True
    if f.get("high"):
        return ctx.t("memory.cause.plan"), [step("upgrade"), step("logs"), step("restart")], True
    if f.get("restarts") or f.get("crashed"):
        return ctx.t("memory.cause.restarts"), [step("logs"), step("code"), step("upgrade")], False
    if f.get("cpu_high"):
        return ctx.t("memory.cause.cpu"), [step("cpu"), step("upgrade")], False
    if f.get("overload"):
        return ctx.t("memory.cause.overload"), [step("logs"), step("code")], False
    return ctx.t("memory.cause.ok"), [], False


PLAYBOOK = Playbook(
    name="memory",
    symptoms=("memory", "high_memory", "restarts", "crash", "crashed", "overload", "cpu", "oom", "slow"),
    needs=("config", "railway"),
    run=run,
    order=40,
)
