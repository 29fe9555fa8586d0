"""``/db``: a service's database from chat — Railway volume backups and restores, the Prisma migrations
table, and the runbook's cleanups — every change a kind of the change flow (``bot.changes``), so it
needs a second person, runs once and is audited like a rollback. Its Block Kit is ``render``. It may
import ``bot.common``, ``bot.config``, ``bot.i18n``, ``bot.railway``, ``bot.runtime``, ``bot.slack``,
``bot.store``, ``bot.changes`` (log-line cleaning) and ``bot.incidents`` (the lease row that keeps a
database change on one replica, ``claim``); the composition root registers its kinds with the change flow."""
