"""``chatops doctor [--socket] [--lang es|en]``: is this configuration ready to run the bot?"""

from __future__ import annotations

import argparse
import platform

# Every variable a check's sentence may use, so each sentence renders whatever its check found.
_NO_DETAIL = dict.fromkeys(("team", "user", "error", "missing", "status", "service", "verdict", "reason",
                            "current", "head"), "")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the Slack and Railway tokens, the services and the database")
    p.add_argument("--socket", action="store_true", help="check for Socket Mode (app token) instead of HTTP")
    p.add_argument("--lang", choices=["en", "es"], help="language of the report (default CHATOPS_LANGUAGE)")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    from bot.common.identity import VERSION
    from bot.config.settings import load_settings
    from bot.doctor import run_checks
    from bot.i18n import t
    from bot.main import build

    settings = load_settings()
    lang = args.lang or settings.CHATOPS_LANGUAGE
    chatops = build(settings)
    try:
        results = await run_checks(chatops.rt, socket_mode=args.socket)
    finally:
        await chatops.rt.close()
    print(t("doctor.version", lang, version=VERSION, python=platform.python_version()))
    for result in results:
        detail = {**_NO_DETAIL, **result.detail}
        mark = "✅" if result.ok else "❌"
        print(f"{mark} {t(f'doctor.check.{result.key}', lang, **detail)}")
        if not result.ok and result.fix:
            print("   → " + t(f"doctor.fix.{result.fix}", lang, **detail))
    failed = sum(not r.ok for r in results)
    print(t("doctor.summary", lang, failed=failed, total=len(results)))
    return 1 if failed else 0
