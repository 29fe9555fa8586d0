"""Charts: drawn by the worker process within its bounds, shared through Slack's upload flow, and the
memory playbook's chart posted by ``/diagnose memory`` on a service whose memory climbs past 80 %."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.charts.renderer import ChartFailed, ChartRenderer
from bot.charts.spec import ChartSpec, Line, Marker, Panel, Series
from tests.conftest import eventually
from tests.images import png_facts

CHANNEL = "C0OPS"
T0 = 1_800_000_000


def _spec(label: str = "memory used", n: int = 61) -> ChartSpec:
    points = [(T0 + 60 * i, 0.4 + 0.01 * i) for i in range(n)]
    return ChartSpec("backend: memory", "Time (UTC)", (Panel("Memory", "GB", (Series(label, points),),
                                                             (Line(0.8, "80% of 1 GB"),)),),
                     alt_text="memory from 0.4 to 1.0 GB", markers=(Marker(T0 + 1200, "deploy 9b3e1f0"),))


async def test_the_worker_draws_a_phone_sized_png_and_a_second_chart_reuses_it():
    renderer = ChartRenderer(timeout=60, memory_mb=512)
    try:
        png = await renderer.render(_spec())
        pid = renderer.worker_pid
        again = await renderer.render(_spec("again"))
    finally:
        await renderer.close()
    width, height, shades = png_facts(png)
    assert (width, height) == (704, 418) and shades > 50
    assert 5_000 < len(png) < 500_000 and png_facts(again)[0] == 704
    assert pid is not None and renderer.worker_pid is None  # closed: the worker has ended


async def test_a_render_past_its_time_bound_kills_the_worker_and_the_next_one_starts_afresh():
    renderer = ChartRenderer(timeout=60, memory_mb=512)
    try:
        await renderer.render(_spec())  # the worker is up
        first = renderer.worker_pid
        renderer.timeout = 0.001
        with pytest.raises(ChartFailed, match="no answer within"):
            await renderer.render(_spec())
        assert renderer.worker_pid is None
        renderer.timeout = 60
        assert png_facts(await renderer.render(_spec()))[2] > 50
        assert renderer.worker_pid not in (None, first)
    finally:
        await renderer.close()


async def test_the_memory_cap_holds_in_the_worker():
    """64 MB of address space cannot even hold matplotlib: the worker fails, the bot does not."""
    renderer = ChartRenderer(timeout=60, memory_mb=64)
    try:
        with pytest.raises(ChartFailed):
            await renderer.render(_spec())
    finally:
        await renderer.close()


def test_labels_are_redacted_and_series_are_capped():
    spec = _spec(label="DATABASE_URL=postgresql://u:hunter2hunter2@db:5432/x", n=5000)
    data = spec.to_json()
    assert "hunter2hunter2" not in json.dumps(data)
    assert len(data["panels"][0]["series"][0]["points"]) == 720


async def test_diagnose_memory_on_a_climbing_service_shares_a_chart_through_the_upload_flow(
        make_bot, slack, signer, rollback_env):
    world = rollback_env.railway.world
    now = world.loaded_at
    world.set_metrics("backend", "MEMORY_USAGE_GB", [(now - (60 - i) * 60, 0.9 + 0.012 * i) for i in range(61)])
    world.set_metrics("backend", "MEMORY_LIMIT_GB", [(now - (60 - i) * 60, 2.0) for i in range(61)])
    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    req = signer.slash_command("/diagnose", "memory backend", user_id="U0ANA", channel_id=CHANNEL,
                               response_url=slack.response_url(channel=CHANNEL))
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code == 200
    shared = await eventually(lambda: slack.shared_files(CHANNEL) or None, timeout=60)

    # The finding came first and reads complete without the picture.
    finding = slack.responses[0].payload
    assert finding["response_type"] == "in_channel"
    assert "1.62 GB of 2.00 GB (81 %)" in finding["text"] + json.dumps(finding["blocks"])
    assert "chart" not in json.dumps(finding).lower()

    # The three steps of the upload flow, in order, and the file in the channel.
    methods = [c.method for c in slack.calls if c.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    get_url = slack.calls_to("files.getUploadURLExternal")[0]
    complete = slack.calls_to("files.completeUploadExternal")[0]
    assert get_url.params["filename"] == "backend-memory.png" and "80%" in get_url.params["alt_txt"]
    assert complete.params["channel_id"] == CHANNEL
    assert shared[0]["title"] == "backend: memory and CPU, last hour" and shared[0]["mimetype"] == "image/png"
    message = next(m for m in slack.messages(CHANNEL) if m.get("files"))
    assert "trend +" in message["text"] and "per hour" in message["text"]  # the caption says the slope

    png = slack.file_content(shared[0]["id"])
    width, height, shades = png_facts(png)
    assert (width, height) == (704, 726) and shades > 50, "the chart looks blank"
    assert int(get_url.params["length"]) == len(png)


async def test_health_chart_draws_each_endpoints_latency_over_the_last_hour(make_bot, slack, signer, rollback_env):
    from datetime import UTC, datetime, timedelta

    from bot.store.models import ProbeResult

    bot = await make_bot(rollback_env.config(), **rollback_env.settings())
    now = datetime.now(UTC)
    async with bot.rt.store.session() as session:  # what the monitor recorded over the last hour
        session.add_all([ProbeResult(service="backend", endpoint=path, status=200, latency_ms=ms + 3 * i,
                                     verdict="ok", source="monitor", at=now - timedelta(minutes=58 - i))
                         for i in range(0, 58, 2) for path, ms in (("/health", 20.0), ("/ready", 180.0))])
        session.add(ProbeResult(service="backend", endpoint="/health", status=200, latency_ms=999.0, verdict="ok",
                                source="monitor", at=now - timedelta(hours=3)))  # outside the window
    req = signer.slash_command("/health", "backend --chart", user_id="U0ANA", channel_id=CHANNEL,
                               response_url=slack.response_url(channel=CHANNEL))
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(bot.slack_url, content=req.body, headers=req.headers)
    assert "Checking backend" in resp.json()["text"]
    shared = await eventually(lambda: slack.shared_files(CHANNEL) or None, timeout=60)
    assert slack.responses[0].payload["response_type"] == "in_channel"  # the report first, as always
    alt = slack.calls_to("files.getUploadURLExternal")[0].params["alt_txt"]
    assert "latency per endpoint over the last hour" in alt and "/ready" in alt and "999" not in alt
    assert shared[0]["title"] == "backend: latency per endpoint, last hour"
    width, height, shades = png_facts(slack.file_content(shared[0]["id"]))
    assert (width, height) == (704, 418) and shades > 50


def test_the_latency_chart_keeps_the_slowest_endpoints_and_has_nothing_without_history():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from bot.render.health_chart import latency_chart

    assert latency_chart("backend", [], "en") is None
    at = datetime.now(UTC)
    rows = [SimpleNamespace(at=at, endpoint=f"/e{i}", latency_ms=float(i), verdict="ok") for i in range(12)]
    spec = latency_chart("backend", rows, "es")
    labels = [s.label for s in spec.panels[0].series]
    assert labels[:2] == ["/e11", "/e10"] and len(labels) == 8 and "/e0" not in labels
    assert spec.title == "backend: latencia por endpoint, última hora" and "/e11" in spec.alt
