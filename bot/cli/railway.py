"""``chatops railway deployments <service> [--json]``: a service's Railway deployments, newest first.

Exit codes: 0 ok, 1 Railway error (sentence on stderr), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from bot.i18n import normalise_language, plain_date, t

if TYPE_CHECKING:
    from bot.railway import Deployment

_MESSAGE_WIDTH = 50


def register(sub: argparse._SubParsersAction) -> None:
    lang = normalise_language(os.environ.get("CHATOPS_LANGUAGE"))
    railway = sub.add_parser("railway", help=t("railway.cli.help", lang))
    verbs = railway.add_subparsers(dest="railway_verb", required=True)
    deployments = verbs.add_parser("deployments", help=t("railway.cli.deployments_help", lang))
    deployments.add_argument("service", help=t("railway.cli.service_help", lang))
    deployments.add_argument("--json", action="store_true", help=t("railway.cli.json_help", lang))
    deployments.add_argument("--limit", type=int, default=20, help=t("railway.cli.limit_help", lang))
    deployments.set_defaults(func=run_deployments)


async def run_deployments(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so ``chatops --help`` does not load httpx and graphql.
    import httpx

    from bot.common.errors import ConfigError
    from bot.common.redact import redact
    from bot.config.services import load_services
    from bot.config.settings import load_settings
    from bot.railway import RailwayClient, RailwayError

    try:
        settings = load_settings()
        lang = settings.CHATOPS_LANGUAGE
        services = load_services(settings.CHATOPS_CONFIG, required=True)
        service = services.service(args.service)
        if service is None:
            raise ConfigError(t("railway.cli.unknown_service", lang, name=args.service,
                                known=", ".join(services.service_names) or "—"))
        if service.railway is None:
            raise ConfigError(t("railway.cli.no_railway", lang, name=service.name))
        async with httpx.AsyncClient() as http:
            client = RailwayClient.from_settings(settings, http)
            ids = await client.resolve(service.railway)
            found = await client.deployments(ids, limit=args.limit)
    except ConfigError as exc:
        print(f"chatops: {redact(exc)}", file=sys.stderr)
        return 2
    except RailwayError as exc:
        print(f"chatops: {redact(exc)}", file=sys.stderr)
        return 1
    print(json.dumps(deployments_json(found), indent=2) if args.json else table(found, service.name, lang))
    return 0


def deployments_json(deployments: list[Deployment]) -> dict:
    """The language-neutral ``--json`` shape."""
    from bot.railway import format_time

    return {"deployments": [
        {"id": d.id, "status": d.status, "created_at": format_time(d.created_at), "commit_hash": d.commit_hash,
         "commit_message": d.commit_message, "can_rollback": d.can_rollback}
        for d in deployments
    ]}


def table(deployments: list[Deployment], service: str, lang: str) -> str:
    if not deployments:
        return t("railway.cli.none", lang, service=service)
    header = [t(f"railway.cli.col_{c}", lang)
              for c in ("created", "status", "id", "commit", "branch", "rollback", "message")]
    rows = [[plain_date(d.created_at, lang), d.status, d.id, (d.commit_hash or "—")[:7], d.branch or "—",
             t("railway.cli.yes" if d.can_rollback else "railway.cli.no", lang), _first_line(d.commit_message)]
            for d in deployments]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in [header, *rows]]
    return "\n".join([t("railway.cli.heading", lang, service=service), *[line.rstrip() for line in lines]])


def _first_line(message: str | None) -> str:
    line = message.strip().splitlines()[0] if message and message.strip() else "—"
    return line if len(line) <= _MESSAGE_WIDTH else line[: _MESSAGE_WIDTH - 1] + "…"
