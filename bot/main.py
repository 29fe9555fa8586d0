"""The composition root: the only place in bot/ that knows the handlers and playbooks."""

from __future__ import annotations

from bot.config.services import load_services
from bot.config.settings import Settings
from bot.probe.profiles import check_profiles
from bot.runtime import Runtime, build_runtime
from bot.slack.bolt_app import Registrar


def registrars() -> list[Registrar]:
    from handlers import diagnose, health, incident, logs, rollback

    return [health.register, rollback.register, diagnose.register, _install_incidents, incident.register,
            logs.register]


def background_jobs() -> list:
    from bot.incidents.watchers import release_on_stop

    return [release_on_stop]


def _install_incidents(app, rt: Runtime) -> None:
    """Incidents, the monitor and the deploy watch, with the playbooks as their evidence runner."""
    from bot.incidents.watchers import install

    install(rt, playbook_runner=_playbook_runner(rt))


def _playbook_runner(rt: Runtime):
    async def run(service_name: str, symptom: str | None, lang: str) -> list:
        """The playbooks for the symptom (every playbook when none answers to it)."""
        from playbooks.base import PlaybookContext
        from playbooks.registry import ALL, playbooks_for_symptom, run_playbooks

        service = rt.config.service(service_name)
        if service is None:
            return []
        chosen = [p.name for p in playbooks_for_symptom(symptom)] if symptom else []
        ctx = PlaybookContext(service=service, services=rt.config, http=rt.http, railway=rt.railway, lang=lang,
                              store=rt.store)
        return await run_playbooks(chosen or ALL, ctx)

    return run


def make_runtime(settings: Settings) -> Runtime:
    required = "CHATOPS_CONFIG" in settings.model_fields_set
    config = load_services(settings.CHATOPS_CONFIG, required=required)
    check_profiles(config)
    return build_runtime(settings, config)
