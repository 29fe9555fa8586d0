"""The composition root: the only place in bot/ that knows the handlers and playbooks."""

from __future__ import annotations

from bot.app import Registrar
from bot.config import load_services
from bot.probe.profiles import check_profiles
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings


def registrars() -> list[Registrar]:
    from handlers import diagnose, health, rollback

    return [health.register, rollback.register, diagnose.register]


def background_jobs() -> list:
    return []


def make_runtime(settings: Settings) -> Runtime:
    required = "CHATOPS_CONFIG" in settings.model_fields_set
    config = load_services(settings.CHATOPS_CONFIG, required=required)
    check_profiles(config)
    return build_runtime(settings, config)
