"""``chatops diagnose <name|all> <service> [--json] [--lang es|en] [--timeout S]``.

Runs the playbooks against one configured service and prints the findings (text, or JSON with
``--json``). Without a Railway token the Railway-based evidence is reported as not checked.
Exit codes: 0 when every finding is ok, 1 when any is a problem or unknown, 2 for a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bot.common.errors import ChatopsError, ConfigError
from bot.common.redact import redact
from bot.config.services import load_services
from bot.config.settings import load_settings
from bot.i18n import normalise_language, t
from bot.main import outbound_http, railway_client
from bot.render.diagnose import diagnose_text
from playbooks import ALL, PlaybookRunner, findings_to_json, playbook_names
from playbooks.registry import DEFAULT_TIMEOUT

MAX_TIMEOUT = 120.0


def register(sub: argparse._SubParsersAction) -> None:
    lang = normalise_language(os.environ.get("CHATOPS_LANGUAGE"))
    names = ", ".join(playbook_names())
    p = sub.add_parser("diagnose", help=t("diagnose.cli.help", lang))
    p.add_argument("name", help=t("diagnose.cli.name_help", lang, names=names))
    p.add_argument("service", help=t("diagnose.cli.service_help", lang))
    p.add_argument("--json", action="store_true", help=t("diagnose.cli.json_help", lang))
    p.add_argument("--lang", choices=["en", "es"], help=t("diagnose.cli.lang_help", lang))
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=t("diagnose.cli.timeout_help", lang, default=f"{DEFAULT_TIMEOUT:g}"))
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        lang = normalise_language(args.lang or ("en" if args.json else settings.CHATOPS_LANGUAGE))
        if args.name != ALL and args.name not in playbook_names():
            raise ConfigError(t("diagnose.cli.unknown_playbook", lang, name=args.name,
                                names=", ".join(playbook_names())))
        if not 0 < args.timeout <= MAX_TIMEOUT:
            raise ConfigError(t("diagnose.cli.timeout_range", lang, max=f"{MAX_TIMEOUT:g}"))
        services = load_services(settings.CHATOPS_CONFIG, required=True)
        if not services.services:
            raise ConfigError(t("diagnose.cli.no_services", lang, path=settings.CHATOPS_CONFIG))
        service = services.service(args.service)
        if service is None:
            raise ConfigError(t("diagnose.cli.unknown_service", lang, name=args.service,
                                known=", ".join(services.service_names)))
        async with outbound_http() as http:
            railway = railway_client(settings, http, timeout=min(args.timeout, 15.0))
            runner = PlaybookRunner(services, http, railway, timeout=args.timeout)
            findings = await runner.run(args.name, service.name, lang)
    except ChatopsError as exc:
        print(f"chatops: {redact(exc)}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(findings_to_json(findings), ensure_ascii=False))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(diagnose_text(service.name, findings, lang, color=color), end="")
    return 0 if all(f.verdict == "ok" for f in findings) else 1
