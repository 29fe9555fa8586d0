"""The scripted demo: the real bot, signed requests, and local emulators on loopback.

Everything runs in this process on 127.0.0.1 and stops at the end; the database is a SQLite
file in a temporary folder. The conversation is printed as Slack would show it and written as
a self-contained HTML transcript.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.composition import registrars
from bot.config import parse_services
from bot.emulators.railway import RailwayEmulator
from bot.emulators.signer import SlackRequestSigner
from bot.emulators.slack import SlackEmulator
from bot.emulators.target import TargetEmulator
from bot.i18n import render_document, t
from bot.render.terminal import blocks_to_text
from bot.sandbox import RunningBot, start_bot
from bot.settings import load_settings
from bot.store.migrate import upgrade_async

SECRET = "demo-signing-secret-not-a-real-one"
BOT_TOKEN = "xoxb-demo-token"
RAILWAY_TOKEN = "demo-api-token"
CHANNEL = "C0OPS"
USERS = {"U0ANA": {"name": "ana", "real_name": "Ana (on call)", "locale": "es-ES"},
         "U0LEO": {"name": "leo", "real_name": "Leo (SRE lead)", "locale": "en-US"}}


@dataclass
class Entry:
    who: str  # a user name, or "bot"
    kind: str  # command | ephemeral | message | update | note
    text: str
    blocks: list[dict] | None = None


@dataclass
class Transcript:
    lang: str
    color: bool
    entries: list[Entry] = field(default_factory=list)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        print(self._terminal(entry), flush=True)

    def _terminal(self, e: Entry) -> str:
        label = t(f"demo.kind.{e.kind}", self.lang, who=e.who)
        body = blocks_to_text(e.blocks, e.text, color=self.color)
        head = f"\033[1;35m{label}\033[0m" if self.color else label
        return f"{head}\n{_indent(body)}\n"


def _indent(text: str) -> str:
    return "\n".join("  │ " + line for line in text.splitlines())


class Sandbox:
    """The emulators and the bot, wired together on loopback."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.slack = SlackEmulator(bot_token=BOT_TOKEN, users=USERS, channels={CHANNEL: "ops"})
        self.target = TargetEmulator(git_sha="4f2c9e1")
        self.railway = RailwayEmulator(stage_seconds=0.3)
        self.signer = SlackRequestSigner(SECRET)
        self.bot: RunningBot | None = None
        self.http = httpx.AsyncClient(timeout=10)
        self._tmp = tempfile.TemporaryDirectory(prefix="chatops-demo-")

    async def __aenter__(self) -> Sandbox:
        await self.slack.start()
        target_url = await self.target.start()
        railway_url = await self.railway.start()
        services = parse_services(f"""
[[services]]
name = "backend"
url = "{target_url}"
profile = "ivan-reseller-web"
frontend_origins = ["https://www.ivanreseller.com"]
railway = {{ project = "ivan-reseller", environment = "production", service = "backend" }}

[approvals]
approvers = ["U0LEO"]

[incidents]
channel = "{CHANNEL}"
responders = ["U0ANA", "U0LEO"]

[i18n]
language = "{self.lang}"
""", "demo")
        db = Path(self._tmp.name) / "chatops.db"
        settings = load_settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET,
                                 SLACK_API_URL=self.slack.api_url, DATABASE_URL=f"sqlite:///{db}",
                                 RAILWAY_API_URL=railway_url + "/graphql/v2", RAILWAY_API_TOKEN=RAILWAY_TOKEN,
                                 CHATOPS_LANGUAGE=self.lang)
        await upgrade_async(settings.DATABASE_URL)
        self.bot = await start_bot(settings, services, registrars())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.bot:
            await self.bot.stop()
        await self.http.aclose()
        await self.railway.stop()
        await self.target.stop()
        await self.slack.stop()
        self._tmp.cleanup()

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the bot's follow-up work (and any long task) has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.bot.rt.jobs.join()
            busy = [task for task in self.bot.rt.tasks if not task.done() and task.get_name() != "periodic-hooks"]
            if not busy:
                return
            await asyncio.wait(busy, timeout=max(0.0, deadline - time.monotonic()))

    async def command(self, user: str, command: str, text: str) -> httpx.Response:
        req = self.signer.slash_command(command, text, user_id=user, user_name=USERS[user]["name"],
                                        channel_id=CHANNEL, channel_name="ops",
                                        response_url=self.slack.response_url(channel=CHANNEL))
        return await self.http.post(self.bot.slack_url, content=req.body, headers=req.headers)

    async def click(self, user: str, action_id: str, message: dict) -> httpx.Response:
        button = next(e for b in message.get("blocks", []) if b.get("type") == "actions"
                      for e in b["elements"] if e.get("action_id") == action_id)
        req = self.signer.block_actions(action_id, button["value"], user_id=user, user_name=USERS[user]["name"],
                                        channel_id=CHANNEL, message_ts=message["ts"], message=message,
                                        response_url=self.slack.response_url("actions", channel=CHANNEL,
                                                                             message_ts=message["ts"]))
        return await self.http.post(self.bot.slack_url, content=req.body, headers=req.headers)


class Recorder:
    """Turns what the Slack emulator saw since the last look into transcript entries."""

    def __init__(self, sandbox: Sandbox, transcript: Transcript) -> None:
        self.sb = sandbox
        self.tr = transcript
        self._calls = 0
        self._responses = 0

    def flush(self) -> None:
        slack = self.sb.slack
        for post in slack.responses[self._responses:]:
            payload = post.payload
            kind = "message" if payload.get("response_type") == "in_channel" else "ephemeral"
            if payload.get("replace_original"):
                kind = "update"
            self.tr.add(Entry("bot", kind, payload.get("text", ""), payload.get("blocks")))
        self._responses = len(slack.responses)
        for call in slack.calls[self._calls:]:
            if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral") and call.ok:
                kind = {"chat.postMessage": "message", "chat.update": "update"}.get(call.method, "ephemeral")
                self.tr.add(Entry("bot", kind, call.params.get("text", ""), call.params.get("blocks")))
            elif call.method in ("conversations.create", "pins.add") and call.ok:
                self.tr.add(Entry("bot", "note", t(f"demo.note.{call.method}", self.tr.lang,
                                                   name=call.params.get("name", "")), None))
        self._calls = len(slack.calls)


async def run_demo(*, lang: str, transcript: Path, color: bool) -> int:
    tr = Transcript(lang=lang, color=color)
    started = time.monotonic()
    async with Sandbox(lang) as sb:
        rec = Recorder(sb, tr)
        rec.flush()

        async def say(user: str, command: str, text: str) -> None:
            tr.add(Entry(USERS[user]["name"], "command", f"{command} {text}".strip()))
            resp = await sb.command(user, command, text)
            ack = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
            if ack.get("text"):
                tr.add(Entry("bot", "ephemeral", ack["text"]))
            await sb.settle()
            rec.flush()

        tr.add(Entry("demo", "note", t("demo.step.healthy", lang)))
        await say("U0ANA", "/health", "backend")
    elapsed = time.monotonic() - started
    html = render_document("transcript.html.j2", lang, entries=tr.entries, blocks_to_text=blocks_to_text)
    await asyncio.to_thread(transcript.write_text, html, encoding="utf-8")
    print(t("demo.done", lang, seconds=elapsed, path=str(transcript)))
    return 0
