"""Incidents: the service that opens, updates and closes one (its channel, pinned summary, timeline,
final summary and postmortem), the policy that decides when a signal is an incident, the health
monitor, the deploy watch and the leadership lease that decides which replica runs them. It may
import ``bot.common``, ``bot.config``, ``bot.i18n``, ``bot.probe``, ``bot.railway``, ``bot.render``,
``bot.slack`` and ``bot.store``; the playbooks and changes reach it only through the callables the
composition root (``bot.main``) hands it.
"""
