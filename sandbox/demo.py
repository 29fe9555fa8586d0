"""The scripted demo: the real bot, signed requests, and local emulators on loopback.

Everything runs in this process on 127.0.0.1 and stops at the end; the database is a SQLite
file in a temporary folder. The conversation is printed as Slack would show it and written as
a self-contained HTML transcript.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.config.services import parse_services
from bot.config.settings import load_settings
from bot.i18n import render_document, t
from bot.render.terminal import blocks_to_text
from bot.slack.action_ids import ActionId
from bot.store.migrate import upgrade_async
from sandbox.emulators.railway import RailwayEmulator
from sandbox.emulators.railway_world import DeploymentRecord
from sandbox.emulators.signer import SlackRequestSigner
from sandbox.emulators.slack import SlackEmulator
from sandbox.emulators.target import TargetEmulator
from sandbox.runner import RunningBot, start_bot
from sandbox.slack_html import mrkdwn, plain

SECRET = "demo-signing-secret-not-a-real-one"
BOT_TOKEN = "xoxb-demo-token"
RAILWAY_TOKEN = "demo-api-token"
CHANNEL = "C0OPS"
USERS = {"U0ANA": {"name": "ana", "real_name": "Ana (on call)", "locale": "es-ES"},
         "U0LEO": {"name": "leo", "real_name": "Leo (SRE lead)", "locale": "en-US"}}
NAMES = {uid: info["name"] for uid, info in USERS.items()}  # mentions in the transcript read "@ana", as in Slack
BOT_NAME = "chatops"


@dataclass
class Image:
    src: str  # a data: URI (the transcript is one self-contained file)
    alt: str


@dataclass
class Entry:
    who: str  # a person's name, the bot's name or "demo"
    kind: str  # command | click | ephemeral | message | update | home | note | step
    text: str
    blocks: list[dict] | None = None
    where: str = ""  # the channel it happened in
    at: str = field(default_factory=lambda: _clock(time.time()))
    images: list[Image] = field(default_factory=list)


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


@dataclass
class Transcript:
    lang: str
    color: bool
    entries: list[Entry] = field(default_factory=list)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        print(self._terminal(entry), flush=True)

    def _terminal(self, e: Entry) -> str:
        if e.kind == "step":
            return f"\n\033[1;33m== {e.text} ==\033[0m\n" if self.color else f"\n== {e.text} ==\n"
        label = t(f"demo.kind.{e.kind}", self.lang, who=e.who) + (f"  {e.where}" if e.where else "")
        body = blocks_to_text(e.blocks, e.text, color=self.color, names=NAMES)
        body += "".join(f"\n🖼  {image.alt}" for image in e.images)
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
        self.railway = RailwayEmulator(stage_seconds=0.4)
        self.signer = SlackRequestSigner(SECRET)
        self.bot: RunningBot | None = None
        self.http = httpx.AsyncClient(timeout=10)
        self.response_channels: dict[str, str] = {}  # response_url -> the channel it answers in
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
database_service_id = "e7b4c2a9-1d6f-4b3e-9a8c-5f2d0e6b8a33"
redis_service_id = "b81f4c6d-2e9a-4d7b-8c5f-3a1e6d9b0c44"

[approvals]
approvers = ["U0LEO"]

[incidents]
channel = "{CHANNEL}"
responders = ["U0ANA", "U0LEO"]

[monitor]
interval_seconds = 0.5
failures_to_open = 2
successes_to_resolve = 2
recovery_seconds = 1.5
deploy_poll_seconds = 0.5
metrics_interval_seconds = 600
summary_interval_seconds = 0.2

[i18n]
language = "{self.lang}"
""", "demo")
        db = Path(self._tmp.name) / "chatops.db"
        settings = load_settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET,
                                 SLACK_API_URL=self.slack.api_url, DATABASE_URL=f"sqlite:///{db}",
                                 RAILWAY_API_URL=railway_url + "/graphql/v2", RAILWAY_API_TOKEN=RAILWAY_TOKEN,
                                 CHATOPS_LANGUAGE=self.lang, CHATOPS_FOLLOW_POLL_SECONDS=0.2,
                                 CHATOPS_AUDIT_SPILL_PATH=Path(self._tmp.name) / "audit-spill.jsonl")
        await upgrade_async(settings.DATABASE_URL)
        self.bot = await start_bot(settings, services)
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
        """Wait until the bot's follow-up work (and any rollback it runs) has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.bot.rt.jobs.join()
            await self.bot.rt.responses.drain(max(0.0, deadline - time.monotonic()))
            busy = [task for task in self.bot.rt.tasks if not task.done() and task.get_name().startswith("rollback-")]
            if not busy:
                return
            await asyncio.wait(busy, timeout=max(0.0, deadline - time.monotonic()))

    def names(self) -> dict[str, str]:
        """Who and where each id is (people's and channels' names), as Slack shows mentions."""
        channels = {cid: c.name for cid, c in self.slack.workspace.channels.items()}
        people = {uid: info["name"] for uid, info in USERS.items()}
        return {**channels, **people, self.slack.workspace.bot_user_id: BOT_NAME}

    def _response_url(self, kind: str, channel: str, message_ts: str | None = None) -> str:
        url = self.slack.response_url(kind, channel=channel, message_ts=message_ts)
        self.response_channels[url] = channel
        return url

    async def command(self, user: str, command: str, text: str, channel: str = CHANNEL) -> httpx.Response:
        info = self.slack.channel(channel) or {}
        response_url = self._response_url("commands", channel)
        req = self.signer.slash_command(command, text, user_id=user, user_name=USERS[user]["name"],
                                        channel_id=channel, channel_name=info.get("name", "ops"),
                                        response_url=response_url)
        return await self.http.post(self.bot.slack_url, content=req.body, headers=req.headers)

    async def open_home(self, user: str) -> httpx.Response:
        """The person opens the app's Home tab: Slack sends app_home_opened to the bot."""
        return await self.slack.open_home(user, self.bot.slack_url, self.signer, self.http)

    async def click(self, user: str, button: Button) -> httpx.Response:
        message = button.message
        req = self.signer.block_actions(button.action_id, button.value, user_id=user, user_name=USERS[user]["name"],
                                        channel_id=button.channel, message_ts=message["ts"], message=message,
                                        response_url=self._response_url("actions", button.channel, message["ts"]))
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
            channel = self.sb.response_channels.get(post.url, CHANNEL)
            self.tr.add(Entry(BOT_NAME, kind, payload.get("text", ""), payload.get("blocks"), self._where(channel),
                              at=_clock(post.time)))
        self._responses = len(slack.responses)
        for call in slack.calls[self._calls:]:
            params, at = call.params, _clock(call.time)
            if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral") and call.ok:
                kind = {"chat.postMessage": "message", "chat.update": "update"}.get(call.method, "ephemeral")
                self.tr.add(Entry(BOT_NAME, kind, params.get("text", ""), params.get("blocks"),
                                  self._where(params.get("channel")), at=at))
            elif call.method == "files.completeUploadExternal" and call.ok:
                self.tr.add(Entry(BOT_NAME, "message", params.get("initial_comment") or "", None,
                                  self._where(params.get("channel_id")), at=at, images=self._images(call)))
            elif call.method == "views.publish" and call.ok:
                view = call.params.get("view") or {}
                user = USERS.get(call.params.get("user_id", ""), {}).get("name", call.params.get("user_id", ""))
                self.tr.add(Entry(user, "home", "", view.get("blocks"), at=at))
            elif call.method == "conversations.create" and call.ok:
                self.tr.add(Entry(BOT_NAME, "note", t("demo.note.channel_created", self.tr.lang,
                                                      name=params.get("name", "")), at=at))
            elif call.method == "pins.add" and call.ok:
                self.tr.add(Entry(BOT_NAME, "note", t("demo.note.pinned", self.tr.lang), at=at))
        self._calls = len(slack.calls)

    def _images(self, call) -> list[Image]:
        """The shared files' bytes, from the emulator's upload URL, embedded in the transcript."""
        found = []
        for shared in call.response.get("files", []):
            content = self.sb.slack.file_content(shared["id"])
            stored = self.sb.slack.workspace.files.get(shared["id"])
            if content:
                found.append(Image("data:image/png;base64," + base64.b64encode(content).decode("ascii"),
                                   stored.alt_txt if stored else shared.get("title", "")))
        return found

    def _where(self, channel: str | None) -> str:
        info = self.sb.slack.channel(channel) if channel else None
        return f"#{info['name']}" if info and info.get("name") else (channel or "")


class Conversation:
    """People typing commands and pressing buttons in the sandbox, recorded as they go."""

    def __init__(self, sandbox: Sandbox, transcript: Transcript) -> None:
        self.sb = sandbox
        self.tr = transcript
        self.rec = Recorder(sandbox, transcript)

    async def type_command(self, user: str, command: str, text: str, channel: str = CHANNEL) -> None:
        self.tr.add(Entry(USERS[user]["name"], "command", f"{command} {text}".strip(), where=self._name(channel)))
        resp = await self.sb.command(user, command, text, channel)
        if resp.headers.get("content-type", "").startswith("application/json") and resp.json().get("text"):
            self.tr.add(Entry(BOT_NAME, "ephemeral", resp.json()["text"], where=self._name(channel)))
        await self.settle()

    async def click(self, user: str, button: Button) -> None:
        self.tr.add(Entry(USERS[user]["name"], "click", button.label, where=self._name(button.channel)))
        await self.sb.click(user, button)
        await self.settle()

    async def open_home(self, user: str) -> None:
        await self.sb.open_home(user)
        await self.settle()

    async def settle(self) -> None:
        await self.sb.settle()
        self.rec.flush()

    async def wait_until(self, condition, timeout: float = 20.0):
        """Let the bot work on its own (monitor, deploy watch) until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.rec.flush()
            found = condition()
            if found:
                await self.settle()
                return found
            await asyncio.sleep(0.1)
        self.rec.flush()
        raise DemoStalled(t("demo.stalled", self.tr.lang, seconds=timeout))

    def buttons(self) -> list[Button]:
        """Every button on the bot's current messages, newest message first."""
        found = []
        for channel in self.sb.slack.workspace.channels:
            for message in reversed(self.sb.slack.messages(channel)):
                for block in message.get("blocks") or []:
                    for element in block.get("elements", []) if block.get("type") == "actions" else []:
                        if element.get("type") == "button":
                            found.append(Button(element["text"]["text"], element["action_id"],
                                                element.get("value", ""), channel, message))
        return found

    def button(self, action_id: str) -> Button | None:
        return next((b for b in self.buttons() if b.action_id == action_id), None)

    def note(self, key: str) -> None:
        self.tr.add(Entry("demo", "step", t(key, self.tr.lang)))

    def _name(self, channel: str) -> str:
        return self.rec._where(channel)


class DemoStalled(Exception):
    pass


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    channel: str
    message: dict


BAD_COMMIT = {"commitHash": "9b3e1f0c7a5d2e4b6c8a0f1e3d5b7c9a1e2f4d6b", "branch": "main",
              "commitMessage": "feat(db): use the pooled connection string", "commitAuthor": "GodinesCrazy"}
BAD_LOGS = [
    {"message": "[BOOT] Health listening on port 8080 (env PORT= 8080 )", "timestamp": "+1s"},
    {"message": "=== IVAN RESELLER BACKEND BOOT ===", "timestamp": "+1s"},
    {"message": "\u26a0\ufe0f  Database connection attempt 1/5 failed, retrying in 2000ms...", "timestamp": "+3s"},
    {"message": "   Error: P1000: Authentication failed against database server at `postgres.railway.internal`, "
                "the provided database credentials for `postgres` are not valid.", "timestamp": "+3s"},
    {"message": "\u274c Database connection failed after 5 attempts", "severity": "error", "timestamp": "+12s"},
]


def target_follows(sb: Sandbox, bad_id: str) -> Callable[[DeploymentRecord], None]:
    """The target's health follows what runs on Railway: broken while the bad deploy is active.

    The world calls it as a deployment finishes, in the same step: the bot's post-rollback check, which
    probes the target as soon as Railway says SUCCESS, can never find the target still acting the bad
    deploy (a polling loop here let it, on a busy machine, and the rollback was reported unhealthy)."""
    world = sb.railway.world

    def follow(_finished: DeploymentRecord) -> None:
        bad = world.deployments[bad_id]
        active = world.active(bad.service_id, bad.environment_id)
        broken = active is not None and active.id == bad_id
        if sb.target.state.get("db_down_at_runtime") != broken:
            sb.target.set_state(db_down_at_runtime=broken)

    return follow


async def world_clock(sb: Sandbox) -> None:
    """Time passes on Railway even when nobody asks: deployments reach their outcome on time."""
    while True:
        sb.railway.world.settle()
        await asyncio.sleep(0.1)


async def scripted_incident(conv: Conversation) -> None:
    sb = conv.sb
    conv.note("demo.step.healthy")
    await conv.type_command("U0ANA", "/health", "backend")

    conv.note("demo.step.bad_deploy")
    bad = sb.railway.world.add_deployment("backend", meta=BAD_COMMIT, logs=BAD_LOGS)
    sb.railway.world.on_finish.append(target_follows(sb, bad.id))
    clock = asyncio.create_task(world_clock(sb))
    try:
        conv.note("demo.step.incident")
        await conv.wait_until(lambda: sb.slack.calls_to("pins.add"), timeout=30)
        incident_channel = sb.slack.calls_to("pins.add")[0].params["channel"]

        conv.note("demo.step.diagnose")
        await conv.type_command("U0ANA", "/diagnose", "db backend", channel=incident_channel)
        await conv.type_command("U0ANA", "/diagnose", "memory backend", channel=incident_channel)
        await conv.wait_until(lambda: sb.slack.calls_to("files.completeUploadExternal"), timeout=30)

        conv.note("demo.step.rollback")
        await conv.type_command("U0ANA", "/rollback", 'backend --reason "P1000 after the pooled-connection deploy"',
                       channel=incident_channel)
        approve = await conv.wait_until(lambda: conv.button(ActionId.ROLLBACK_APPROVE.value))
        conv.note("demo.step.home")
        await conv.open_home("U0LEO")  # what waits for Leo, at a glance
        await conv.click("U0ANA", approve)  # the requester cannot approve their own rollback
        await conv.click("U0LEO", approve)
        await conv.wait_until(lambda: _rollback_finished(sb), timeout=30)

        conv.note("demo.step.resolve")
        resolve = await conv.wait_until(lambda: conv.button(ActionId.INCIDENT_RESOLVE.value), timeout=30)
        await conv.click("U0LEO", resolve)
        await conv.wait_until(lambda: _resolved(sb), timeout=20)
    finally:
        clock.cancel()
        await asyncio.wait([clock], timeout=5)


def _rollback_finished(sb: Sandbox) -> bool:
    return any(c.method == "chat.update" and ("Rolled back" in c.params.get("text", "")
                                              or "Rollback hecho" in c.params.get("text", ""))
               for c in sb.slack.calls)


def _resolved(sb: Sandbox) -> bool:
    return any("postmortem" in (c.params.get("text") or "").lower() for c in sb.slack.calls_to("chat.postMessage"))


async def interactive(conv: Conversation) -> None:
    """A prompt against the same sandbox: slash commands as a person, and buttons by number."""
    lang = conv.tr.lang
    print(t("demo.interactive.help", lang))
    user = "U0ANA"
    while True:
        try:
            line = (await asyncio.to_thread(input, t("demo.interactive.prompt", lang, who=USERS[user]["name"]))).strip()
        except EOFError:
            return
        if not line:
            continue
        if line in ("quit", "exit", "salir"):
            return
        if line.startswith("as "):
            wanted = {info["name"]: uid for uid, info in USERS.items()}.get(line[3:].strip())
            user = wanted or user
            continue
        if line in ("buttons", "botones"):
            for i, b in enumerate(conv.buttons(), 1):
                print(f"  {i}. [{b.label}] ({conv._name(b.channel)})")
            continue
        if line.split()[0] in ("click", "clic") and line.split()[-1].isdigit():
            buttons = conv.buttons()
            index = int(line.split()[-1]) - 1
            if 0 <= index < len(buttons):
                await conv.click(user, buttons[index])
            continue
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            await conv.type_command(user, command, text)
            continue
        print(t("demo.interactive.help", lang))


def render_transcript(entries: list[Entry], lang: str, names: dict[str, str]) -> str:
    """The conversation as Slack shows it: Block Kit rendered, mentions and channels by name."""
    return render_document("transcript.html.j2", lang, entries=entries, md=lambda text: mrkdwn(text, names.get),
                           plain=plain)


async def run_demo(*, lang: str, transcript: Path, color: bool, interactive_mode: bool = False) -> int:
    tr = Transcript(lang=lang, color=color)
    started = time.monotonic()
    outcome = 0
    async with Sandbox(lang) as sb:
        conv = Conversation(sb, tr)
        conv.rec.flush()
        try:
            if interactive_mode:
                await interactive(conv)
            else:
                await scripted_incident(conv)
        except DemoStalled as exc:
            print(str(exc))
            outcome = 1
        conv.rec.flush()
        names = sb.names()
    elapsed = time.monotonic() - started
    html = render_transcript(tr.entries, lang, names)
    await asyncio.to_thread(transcript.write_text, html, encoding="utf-8")
    print(t("demo.done", lang, seconds=elapsed, path=str(transcript)))
    return outcome
