"""``chatops diagnose <name|all> <service> [--json] [--lang es|en] [--timeout S]``.

Runs the playbooks against one configured service and prints the findings (text, or JSON with
``--json``). Without a Railway token the Railway-based evidence is reported as not checked.
Exit codes: 0 when every finding is ok, 1 when any is a problem or unknown, 2 for a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

from bot.i18n import normalise_language, t

MAX_TIMEOUT = 120.0
_WRITTEN_WHEN_SHOWN = "(written by _PlaybookHelp)"  # argparse skips an empty help, so it must not be empty


class _PlaybookHelp(argparse.HelpFormatter):
    """Writes the two help lines that need the playbooks only when ``chatops diagnose --help`` prints:
    listing the playbooks imports every one of them, which ``chatops --help`` should not pay for."""

    def __init__(self, prog: str, *, lang: str) -> None:
        super().__init__(prog)
        self._lang = lang

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.dest == "name":
            from playbooks import playbook_names

            return _percent_safe(t("diagnose.cli.name_help", self._lang, names=", ".join(playbook_names())))
        if action.dest == "timeout":
            from playbooks.registry import DEFAULT_TIMEOUT

            return _percent_safe(t("diagnose.cli.timeout_help", self._lang, default=f"{DEFAULT_TIMEOUT:g}"))
        return super()._get_help_string(action)


def _percent_safe(text: str) -> str:
    """argparse %-formats help strings."""
    return text.replace("%", "%%")


def register(sub: argparse._SubParsersAction) -> None:
    lang = normalise_language(os.environ.get("CHATOPS_LANGUAGE"))
    p = sub.add_parser("diagnose", help=t("diagnose.cli.help", lang),
                       formatter_class=functools.partial(_PlaybookHelp, lang=lang))
    p.add_argument("name", help=_WRITTEN_WHEN_SHOWN)
    p.add_argument("service", help=t("diagnose.cli.service_help", lang))
    p.add_argument("--json", action="store_true", help=t("diagnose.cli.json_help", lang))
    p.add_argument("--lang", choices=["en", "es"], help=t("diagnose.cli.lang_help", lang))
    p.add_argument("--timeout", type=float, help=_WRITTEN_WHEN_SHOWN)  # None: the playbooks' default
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so ``chatops --help`` does not load the playbooks and httpx.
    from bot.common.errors import ChatopsError, ConfigError
    from bot.common.redact import redact
    from bot.config.services import load_services
    from bot.config.settings import load_settings
    from bot.main import outbound_http, railway_client
    from bot.render.diagnose import diagnose_text
    from playbooks import ALL, PlaybookRunner, findings_to_json, playbook_names
    from playbooks.registry import DEFAULT_TIMEOUT

    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    try:
        settings = load_settings()
        lang = normalise_language(args.lang or ("en" if args.json else settings.CHATOPS_LANGUAGE))
        if args.name != ALL and args.name not in playbook_names():
            raise ConfigError(t("diagnose.cli.unknown_playbook", lang, name=args.name,
                                names=", ".join(playbook_names())))
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ConfigError(t("diagnose.cli.timeout_range", lang, max=f"{MAX_TIMEOUT:g}"))
        services = load_services(settings.CHATOPS_CONFIG, required=True)
        if not services.services:
            raise ConfigError(t("diagnose.cli.no_services", lang, path=settings.CHATOPS_CONFIG))
        service = services.service(args.service)
        if service is None:
            raise ConfigError(t("diagnose.cli.unknown_service", lang, name=args.service,
                                known=", ".join(services.service_names)))
        async with outbound_http() as http:
            railway = railway_client(settings, http, timeout=min(timeout, 15.0))
            runner = PlaybookRunner(services, http, railway, timeout=timeout)
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
