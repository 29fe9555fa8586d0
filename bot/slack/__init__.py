"""The Slack edge: the HTTP server and its signature check, the Bolt app and its middleware, what a
request says (``request``), posting (``post``), message pacing, follow-up scheduling, scopes and action
ids. It may import ``bot.common``, ``bot.i18n``, ``bot.runtime`` and ``bot.store``; it knows nothing of
rendering, incidents, changes or playbooks (those reach Slack through it).
"""
