"""Changes to a service that need a second person: approval requests (rollback, redeploy, restart),
the runner that executes an approved one exactly once, its Slack flow and Block Kit, post-deploy
verification and the log scanning it rests on. It may import ``bot.common``, ``bot.config``,
``bot.i18n``, ``bot.probe``, ``bot.railway``, ``bot.render``, ``bot.runtime``, ``bot.slack`` and
``bot.store``; never ``bot.incidents``: the composition root subscribes incidents to ``events`` (requested,
decided, finished).
"""
