"""Incidents: the service that opens, updates and closes one (its channel, pinned summary, timeline,
final summary and postmortem, and their Block Kit), the policy that decides when a signal is an
incident, the health monitor, the deploy watch and the leadership lease that decides which replica
runs them. It may import everything below it in ``bot`` (``bot.changes`` for reading deployments and
naming a rollback target); it asks for changes and runs playbooks only through the callables the
composition root (``bot.main``) hands it.
"""
