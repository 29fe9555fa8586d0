"""``chatops health [service|url] [--json] [--profile NAME] [--timeout S] [--lang es|en]``.

From the operator's own terminal any http(s) URL may be probed (with the ``runbook`` profile unless
``--profile`` says otherwise). Exit code 0 when every service is healthy, 1 when any is degraded or
down, 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("health", help="probe the health endpoints of the configured services, or of one URL")
    p.add_argument("target", nargs="?", default="", help="a service name or an http(s) URL (default: every service)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--profile", help="health profile: a built-in name or a .toml path (default: the service's, "
                                     "or runbook for a bare URL)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per endpoint (default 5)")
    p.add_argument("--lang", choices=["en", "es"], help="language of the table (default $CHATOPS_LANGUAGE)")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so ``chatops --help`` does not load httpx and aiohttp.
    import asyncio
    from dataclasses import replace

    from bot.common.errors import ChatopsError, ConfigError
    from bot.config.services import load_services
    from bot.config.settings import load_settings
    from bot.i18n import normalise_language, t
    from bot.probe import Prober, TargetError, reports_to_json, resolve_targets
    from bot.probe.http import probe_client
    from bot.probe.profiles import load_profile
    from bot.render.health import health_table

    lang = normalise_language(args.lang)
    try:
        settings = load_settings()
        lang = normalise_language(args.lang or settings.CHATOPS_LANGUAGE)
        services = load_services(settings.CHATOPS_CONFIG, required=False)
        if args.timeout <= 0 or args.timeout > 120:
            raise ConfigError(t("health.error.timeout_range", lang))
        base = services.path.parent if services.path else None
        if args.profile:
            load_profile(args.profile, base)  # a bad profile is a usage error, before any request
        targets = resolve_targets(args.target, services, allow_any_url=True, profile=args.profile or "runbook")
        # aiohttp's pool pays off for many services at once (bot/probe/http.py); one service's few requests
        # run as well on httpx's own, and not importing aiohttp is a good part of a fast start-up.
        transport = "httpx" if len(targets) == 1 else "aiohttp"
        async with probe_client(transport=transport) as http:
            prober = Prober(http, endpoint_timeout=args.timeout, total_timeout=args.timeout + 3.0,
                            auth_header=settings.CHATOPS_HEALTH_AUTH, correlation_kind="cli",
                            profile_base=base)
            jobs = []
            for service, path in targets:
                if args.profile and getattr(service, "configured", True):
                    service = replace(service, profile=args.profile)
                jobs.append(prober.probe_service(service, path))
            reports = list(await asyncio.gather(*jobs))
    except TargetError as exc:
        print(f"chatops: {exc.message(lang, slack=False)}", file=sys.stderr)
        return 2
    except ChatopsError as exc:
        print(f"chatops: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(reports_to_json(reports), ensure_ascii=False))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(health_table(reports, lang, colour=colour))
    return 0 if all(r.verdict == "healthy" for r in reports) else 1

