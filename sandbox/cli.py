"""``chatops demo``: the bot at work against local Slack, Railway and target emulators."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="play a scripted incident through the real bot against local emulators")
    p.add_argument("--transcript", type=Path, default=Path("demo-transcript.html"),
                   help="where to write the HTML transcript (default demo-transcript.html)")
    p.add_argument("--lang", choices=["en", "es"], help="language of the workspace and the terminal output")
    p.add_argument("--interactive", action="store_true",
                   help="type slash commands and press buttons yourself against the same sandbox")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    # Imported here so that ``chatops --help`` (which registers every verb) does not load the demo,
    # the emulators and the whole bot.
    from bot.i18n import normalise_language
    from sandbox.demo import run_demo

    # The terminal shows the conversation; the bot's own log lines appear only when something failed
    # (a loaded machine's "monitor round ran past its interval" is not part of the story).
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    lang = args.lang or normalise_language(os.environ.get("CHATOPS_LANGUAGE") or os.environ.get("LANG"))
    return await run_demo(lang=lang, transcript=args.transcript, color=sys.stdout.isatty(),
                          interactive_mode=args.interactive)
