"""/logs and ``chatops logs``: signed Slack requests and the CLI against the Railway emulator."""

from __future__ import annotations

import argparse
import json

import httpx
import pytest

from bot.cli import logs as logs_cli
from bot.logs.fold import fold
from bot.logs.query import LogsUsage, parse
from bot.railway.models import LogLine, parse_time
from bot.slack.action_ids import ActionId
from sandbox.emulators.railway import RailwayEmulator
from tests.conftest import eventually

TOKEN = "logs-api-token-123456"
CHANNEL = "C0OPS"
SECRET = "s3cr3t-Pa55w0rd-xyz"
CORRELATION = "0a0830cb-5d1e-4f7a-9c2b-3e4f5a6b7c8d"
TRACE = ("❌ Redis error: Error: connect ECONNREFUSED 127.0.0.1:6390\n"
         "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n"
         "    at Socket.emit (node:events:517:28)\n"
         "    at emitErrorNT (node:internal/streams/destroy:151:8)\n"
         "    at process.processTicksAndRejections (node:internal/process/task_queues:82:21)")


def _world() -> dict:
    old_logs = [{"timestamp": "+10s", "message": f"[REQ] GET /api/orders {CORRELATION}"}]
    logs = [{"timestamp": f"+{i}s", "message": TRACE, "severity": "error"} for i in range(1, 41)]
    logs += [
        {"timestamp": "+50s", "message": "2026-11-30 02:47:57 [error]: Payment failed "
                                        f'{{"correlationId":"{CORRELATION}","statusCode":500}}'},
        {"timestamp": "+51s", "message": f"DATABASE_URL=postgresql://app:{SECRET}@db.internal:5432/app ready"},
        {"timestamp": "+52s", "message": '2026-11-30 02:47:58 [error]: Error Tracked '
                                        '{"correlationId":"chatops-a942410ccbb4","userAgent":"chatops-bot"}'},
        {"timestamp": "+53s", "message": "2026-11-30 02:47:59 [warn]: Slow Request (>2s)"},
    ]
    logs += [{"timestamp": f"+{60 + i}s", "message": f"[REQ] GET /api/item/{i}"} for i in range(60)]
    return {
        "tokens": {"api": [TOKEN]},
        "projects": [{"id": "p1", "name": "shop", "environments": [{"id": "e1", "name": "production"}],
                      "services": [{"id": "s-api", "name": "api"}, {"id": "s-web", "name": "web"}]}],
        "deployments": [
            {"id": "d-old", "service": "api", "status": "REMOVED", "createdAt": "now-40m", "logs": old_logs},
            {"id": "d-new", "service": "api", "status": "SUCCESS", "createdAt": "now-20m", "logs": logs},
            {"id": "d-web", "service": "web", "status": "SUCCESS", "createdAt": "now-20m",
             "logs": [{"timestamp": "+1s", "message": f"web saw ECONNREFUSED {CORRELATION}"}]},
        ],
    }


SERVICES = """
[[services]]
name = "api"
url = "https://api.example.com"
railway = { project = "shop", environment = "production", service = "api" }

[[services]]
name = "static"
url = "https://static.example.com"
"""


@pytest.fixture
async def railway():
    emu = RailwayEmulator(_world())
    await emu.start()
    yield emu
    await emu.stop()


async def _post(url: str, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, content=req.body, headers=req.headers)


async def _logs(bot, slack, signer, text: str) -> tuple[httpx.Response, dict]:
    before = len(slack.responses)
    resp = await _post(bot.slack_url, signer.slash_command("/logs", text, user_id="U0ANA", channel_id=CHANNEL,
                                                           response_url=slack.response_url(channel=CHANNEL)))
    posted = await eventually(lambda: slack.responses[before:] or None, timeout=30)
    return resp, posted[0].payload


def _all_text(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


async def test_logs_answers_in_one_message_with_counts_folded_traces_and_no_secret(make_bot, slack, signer, railway):
    bot = await make_bot(SERVICES, RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN=TOKEN)
    resp, payload = await _logs(bot, slack, signer, "api ECONNREFUSED --since 1h")
    assert resp.status_code == 200 and "Reading the logs of `api`" in resp.json()["text"]
    assert payload["response_type"] == "ephemeral"
    text = _all_text(payload)
    # Railway was asked with its own filter syntax, scoped to the service.
    call = railway.queries("environmentLogs")[-1]
    assert call.variables["filter"] == "@service:s-api ECONNREFUSED"
    assert "web saw" not in text  # another service's line is not this service's
    # 40 identical five-line traces: one entry shown ×40, counted as 40 errors, named as the top repeat.
    assert "40 × `❌ Redis error: Error: connect ECONNREFUSED 127.0.0.1:6390`" in text
    assert "×40" in text and "at TCPConnectWrap.afterConnect" in text and "1 more lines" in text
    assert "*40* lines read → *1* entries" in text and "40 error" in text
    assert payload["text"] == "Logs of api: 1 entries, 40 errors"


async def test_every_line_of_a_request_across_deployments_without_secrets(make_bot, slack, signer, railway):
    bot = await make_bot(SERVICES, RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN=TOKEN)
    _, payload = await _logs(bot, slack, signer, f"api {CORRELATION}")
    text = _all_text(payload)
    assert "GET /api/orders" in text and "Payment failed" in text  # both deployments
    assert "web saw" not in text
    _, payload = await _logs(bot, slack, signer, "api ready --share")
    text = _all_text(payload)
    assert payload["response_type"] == "in_channel"
    assert SECRET not in text and "[redacted]" in text


async def test_own_probe_lines_are_shown_but_not_counted(make_bot, slack, signer, railway):
    bot = await make_bot(SERVICES, RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN=TOKEN)
    _, payload = await _logs(bot, slack, signer, "api Error --level error")
    text = _all_text(payload)
    assert "Error Tracked" in text and "Payment failed" in text and "Slow Request" not in text
    assert "1 entries were caused by this bot's own probes" in text
    assert "41 error" in text  # 40 traces + Payment failed; the probe's line is not counted


async def test_more_pages_through_older_entries_to_the_first(make_bot, slack, signer, railway):
    bot = await make_bot(SERVICES, RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN=TOKEN)
    _, payload = await _logs(bot, slack, signer, "api --deployment d-new")
    assert railway.queries("deploymentLogs")[-1].variables["deploymentId"] == "d-new"
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        body = next(b for b in payload["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("```"))
        seen = body["text"]["text"].strip("`").splitlines() + seen
        buttons = [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
        if not buttons:
            break
        assert buttons[0]["action_id"] == ActionId.LOGS_MORE.value
        before = len(slack.responses)
        click = signer.block_actions(ActionId.LOGS_MORE.value, buttons[0]["value"], user_id="U0ANA",
                                     channel_id=CHANNEL, message_ts="1.000", message={"blocks": payload["blocks"]},
                                     response_url=slack.response_url("actions", channel=CHANNEL))
        assert (await _post(bot.slack_url, click)).status_code == 200
        posted = await eventually(lambda b=before: slack.responses[b:] or None, timeout=30)
        payload = posted[0].payload
        assert payload["replace_original"] is True
    heads = [line for line in seen if not line.startswith("    ")]
    assert pages >= 3
    assert len(heads) == 65  # 1 folded trace, 4 single lines, 60 requests: each shown once
    assert heads[-1].endswith("GET /api/item/59") and "Redis error" in heads[0]
    assert "Entries 1–" in _all_text(payload)


@pytest.mark.parametrize(("text", "expected"), [
    ("api --since 5y", "is not a duration"), ("api --since 90d", "out of range"),
    ("api --level loud", "is not a level"), ("api --bogus", "I don't know the option"),
    ("static", "has no `railway` ids"), ("nope", "I don't know the service `nope`"), ("", "Usage: `/logs")])
async def test_usage_errors_are_answered_at_once(make_bot, slack, signer, railway, text, expected):
    bot = await make_bot(SERVICES, RAILWAY_API_URL=railway.graphql_url, RAILWAY_API_TOKEN=TOKEN)
    resp = await _post(bot.slack_url, signer.slash_command("/logs", text, user_id="U0ANA", channel_id=CHANNEL,
                                                           response_url=slack.response_url(channel=CHANNEL)))
    assert expected in resp.json()["text"]
    assert railway.calls == []


def test_folding_keeps_a_trace_with_its_head_and_reads_the_printed_level():
    at = parse_time("2026-11-30T02:00:00Z")
    lines = [LogLine(at, "2026-11-30 02:00:00 [error]: boom", "info"),
             LogLine(at, "    at a (x.js:1:1)", "info"),
             LogLine(at, "}", "info"),
             LogLine(at, "plain line", "error")]
    folded = fold(lines)
    assert [(e.severity, e.head, len(e.trace)) for e in folded.entries] == [("error", "boom", 2),
                                                                          ("error", "plain line", 0)]
    assert folded.counts == {"error": 2}
    with pytest.raises(LogsUsage):
        parse("api --since")


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chatops")
    logs_cli.register(parser.add_subparsers(dest="verb", required=True))
    return parser.parse_args(["logs", *argv])


async def test_cli_json_has_the_documented_shape(railway, monkeypatch, tmp_path, capsys):
    services = tmp_path / "chatops.toml"
    services.write_text(SERVICES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for key, value in {"CHATOPS_CONFIG": str(services), "RAILWAY_API_URL": railway.graphql_url,
                       "RAILWAY_API_TOKEN": TOKEN, "CHATOPS_LANGUAGE": "en"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RAILWAY_TOKEN", raising=False)
    args = _cli("api", "--json", "--since", "2h")
    assert await args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["service", "deployment_id", "entries", "top"]
    assert out["service"] == "api" and out["deployment_id"] is None  # two deployments' lines
    first = out["entries"][0]
    assert set(first) == {"timestamp", "severity", "message", "count"}
    trace = next(e for e in out["entries"] if "Redis error" in e["message"])
    assert trace["count"] == 40 and trace["severity"] == "error" and trace["message"].count("\n") == 4
    assert out["top"][0] == {"message": "❌ Redis error: Error: connect ECONNREFUSED 127.0.0.1:6390", "count": 40}
    assert SECRET not in json.dumps(out)
    args = _cli("api", "--since", "1h", "--level", "warn")
    assert await args.func(args) == 0
    printed = capsys.readouterr().out
    assert "Slow Request" in printed and "Payment failed" not in printed
    args = _cli("api", "--since", "forever")
    assert await args.func(args) == 2
    assert "is not a duration" in capsys.readouterr().err
