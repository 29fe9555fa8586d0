"""``chatops logs <service> [text…] [--since 1h] [--level …] [--deployment <id>] [--json] [--limit N]``.

Exit codes: 0 ok, 1 Railway error (sentence on stderr), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from bot.i18n import normalise_language, t


def register(sub: argparse._SubParsersAction) -> None:
    lang = normalise_language(os.environ.get("CHATOPS_LANGUAGE"))
    p = sub.add_parser("logs", help=t("logs.cli.help", lang))
    p.add_argument("service", help=t("logs.cli.service_help", lang))
    p.add_argument("text", nargs="*", help=t("logs.cli.text_help", lang))
    p.add_argument("--since", help=t("logs.cli.since_help", lang))  # None: the query's own default
    p.add_argument("--level", help=t("logs.cli.level_help", lang))
    p.add_argument("--deployment", help=t("logs.cli.deployment_help", lang))
    p.add_argument("--json", action="store_true", help=t("logs.cli.json_help", lang))
    p.add_argument("--limit", type=int, default=50, help=t("logs.cli.limit_help", lang))
    p.set_defaults(func=run)


def _command_text(args: argparse.Namespace) -> str:
    """The same text /logs takes, so both read their arguments one way."""
    words = [args.service, *args.text]
    if args.since is not None:
        words += ["--since", args.since]
    if args.level:
        words += ["--level", args.level]
    if args.deployment:
        words += ["--deployment", args.deployment]
    return shlex.join(words)


async def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so ``chatops --help`` does not load httpx and graphql.
    import httpx

    from bot.common.errors import ChatopsError, ConfigError
    from bot.common.redact import redact
    from bot.config.services import load_services
    from bot.config.settings import load_settings
    from bot.logs.query import configured_service, parse, read, to_json
    from bot.logs.render import logs_text
    from bot.railway import RailwayClient, RailwayError

    lang = normalise_language(os.environ.get("CHATOPS_LANGUAGE"))
    try:
        settings = load_settings()
        lang = normalise_language(settings.CHATOPS_LANGUAGE)
        services = load_services(settings.CHATOPS_CONFIG, required=True)
        query = parse(_command_text(args), allow_share=False)
        service = configured_service(services, query.service)
        async with httpx.AsyncClient() as http:
            railway = (RailwayClient.from_settings(settings, http)
                       if settings.RAILWAY_API_TOKEN or settings.RAILWAY_TOKEN else None)
            window = await read(railway, service, query)
    except RailwayError as exc:
        print(f"chatops: {redact(exc.message(lang))}", file=sys.stderr)
        return 1
    except (ConfigError, ChatopsError) as exc:
        print(f"chatops: {redact(exc.message(lang))}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(to_json(window), ensure_ascii=False, indent=2))
    else:
        print(logs_text(window, lang, max(0, args.limit)))
    return 0
