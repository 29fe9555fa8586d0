"""``chatops serve [--port N] [--socket]``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the bot (HTTP on $PORT, or Socket Mode)")
    p.add_argument("--port", type=int, help="port to listen on (default $PORT)")
    p.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    p.add_argument("--socket", action="store_true", help="use Socket Mode (needs SLACK_APP_TOKEN)")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    from bot.common.log import setup_logging
    from bot.config.settings import load_settings, require
    from bot.main import build
    from bot.serve import serve

    settings = load_settings()
    require(settings, "SLACK_BOT_TOKEN", *(["SLACK_APP_TOKEN"] if args.socket else ["SLACK_SIGNING_SECRET"]))
    setup_logging(settings.LOG_LEVEL)
    await serve(build(settings), host=args.host, port=args.port or settings.PORT, socket=args.socket)
    return 0
