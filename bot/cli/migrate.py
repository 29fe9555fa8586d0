"""``chatops migrate``: bring the database schema up to date (the Procfile's release step)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=run)


def run(_args: argparse.Namespace) -> int:
    from bot.config.settings import load_settings
    from bot.i18n import t
    from bot.store.migrate import head_revision, upgrade

    settings = load_settings()
    upgrade(settings.DATABASE_URL)
    print(t("cli.migrated", settings.CHATOPS_LANGUAGE, revision=head_revision()))
    return 0
