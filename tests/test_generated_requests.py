"""Generated input (Hypothesis): signed and unsigned bodies and headers of every shape reach the real
bot; none may get a 5xx, and the bot answers a valid command afterwards.

Deterministic (``derandomize=True``) and bounded (``max_examples``), so CI cannot flake. Hypothesis runs
in a worker thread with a blocking socket client while the bot serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from urllib.parse import urlencode, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.common import metrics
from sandbox.emulators.signer import signature
from tests import raw_http
from tests.conftest import SIGNING_SECRET

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""
EXAMPLES = 300

# Header text a hostile client can put on the wire (no CR/LF: those end the header).
header_text = st.text(st.characters(exclude_characters="\r\n\x00", codec="utf-8"), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def mostly(good, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` three times in four, so generated requests also get past the checks they test."""
    return st.one_of(st.just(good), st.just(good), st.just(good), bad)


slack_ids = mostly("U0ANA", st.one_of(st.text(max_size=70), st.integers().map(str), st.just("U" * 60)))


@st.composite
def click_payloads(draw) -> dict:
    """A block_actions payload with any of its fields replaced by arbitrary JSON."""
    payload = {
        "type": draw(st.sampled_from(["block_actions", "view_submission", "shortcut", "", "block_actions"])),
        "user": {"id": draw(slack_ids), "name": "ana"},
        "team": {"id": "T0EMULATOR"},
        "channel": {"id": "C0GENERAL"},
        "trigger_id": draw(mostly("1.2.abc", st.text(max_size=200))),
        "response_url": "http://127.0.0.1:9/actions/T0EMULATOR/1/x",
        "actions": [{"action_id": draw(st.sampled_from(["health.recheck", "rollback.approve", "rollback.reject",
                                                        "no.such", ""])),
                     "value": draw(st.text(max_size=30))}],
    }
    for key in draw(mostly([], st.lists(st.sampled_from(sorted(payload)), max_size=3, unique=True))):
        payload[key] = draw(json_values)
    return payload


@st.composite
def command_forms(draw) -> dict:
    fields = {"command": draw(st.sampled_from(["/health", "/rollback", "/diagnose", "/incident", "/logs",
                                               "/nosuch", "health", ""])),
              "text": draw(st.text(max_size=80)), "user_id": draw(slack_ids), "channel_id": "C0GENERAL",
              "team_id": "T0EMULATOR", "trigger_id": draw(mostly(None, st.text(max_size=20))),
              "response_url": draw(mostly("http://127.0.0.1:9/commands/T0EMULATOR/1/x", st.sampled_from(["", "no"])))}
    fields = {k: v for k, v in fields.items() if v is not None}
    for key in draw(mostly([], st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True))):
        del fields[key]
    return fields


@st.composite
def bodies(draw) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["command", "command", "click", "click", "deep", "raw", "json"]))
    form = "application/x-www-form-urlencoded"
    if kind == "command":
        return urlencode(draw(command_forms())).encode(), form
    if kind == "click":
        return urlencode({"payload": json.dumps(draw(click_payloads()))}).encode(), form
    if kind == "deep":
        depth = draw(st.integers(min_value=1, max_value=9000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        closer = "]" if opener == "[" else "}"
        return urlencode({"payload": opener * depth + "1" + closer * depth}).encode(), form
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), draw(st.sampled_from(["application/json", form]))
    return draw(st.binary(max_size=300)), draw(st.sampled_from([form, "text/plain", ""]))


@st.composite
def signed_requests(draw) -> tuple[bytes, list[tuple[str, str]]]:
    body, content_type = draw(bodies())
    now = str(int(time.time()))
    timestamp = draw(mostly(now, st.one_of(header_text, st.from_regex(r"[0-9]{1,500}", fullmatch=True))))
    if draw(mostly(True, st.just(False))) or not timestamp.isascii():
        sig = signature(SIGNING_SECRET, timestamp if timestamp.isascii() else now, body)
    else:
        sig = draw(header_text)
    headers = [("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", sig)]
    if content_type:
        headers.append(("Content-Type", content_type))
    return body, headers


def _send(url: str, body: bytes, headers: list[tuple[str, str]]) -> int:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(raw_http.request_bytes(url, body, headers))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


async def test_generated_requests_never_get_a_5xx(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    statuses: list[int] = []
    errors_before = metrics.ERRORS.labels("listener")._value.get()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(signed_requests())
    def no_5xx(request) -> None:
        body, headers = request
        status = _send(bot.slack_url, body, headers)
        statuses.append(status)
        assert status < 500, (status, body[:200], headers)

    await asyncio.to_thread(no_5xx)
    assert len(statuses) == EXAMPLES
    assert set(statuses) >= {200, 400, 401}  # the generator reached past the signature and the shape checks
    assert metrics.ERRORS.labels("listener")._value.get() == errors_before
    # Live afterwards.
    req = signer.slash_command("/health", "nosuchservice", user_id="U1", response_url=slack.response_url())
    status, answer = await raw_http.post(bot.slack_url, req.body, req.headers)
    assert status == 200 and b"nosuchservice" in answer
