"""``chatops``: the command-line entry point. Each verb is a module with ``register(subparsers)``.

The CLI starts at once: a verb module imports only argparse-level things at the top and does its
heavy imports (Bolt, SQLAlchemy, aiohttp, httpx, the playbooks) inside its run function, so
``chatops --help`` and ``chatops health --help`` load none of them (bench/cli_startup.py measures it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot import __version__
from bot.common.errors import ConfigError


def _verbs() -> list:
    """The bot's own verbs, then those other installed packages add through the ``chatops.verbs`` entry
    point group (the sandbox adds ``demo``): the bot never imports them by name."""
    from importlib.metadata import entry_points

    from bot.cli import diagnose, doctor, health, logs, migrate, railway, serve

    plugins = [entry.load() for entry in sorted(entry_points(group="chatops.verbs"), key=lambda e: e.name)]
    return [serve, migrate, health, diagnose, logs, railway, doctor, *plugins]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatops", description="Incident-response chat-ops bot for Railway.")
    parser.add_argument("--version", action="version", version=f"chatops {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in _verbs():
        verb.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import asyncio  # only once a verb runs: ``--help`` never needs them
    import inspect

    try:
        result = args.func(args)
        if inspect.isawaitable(result):
            result = asyncio.run(result)
    except ConfigError as exc:
        print(f"chatops: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
