"""The Slack edge: the HTTP server and its signature check, the Bolt app, what a request says
(``request``), posting with retries and fallbacks (``post``), message pacing, people's languages,
scopes and action ids. It may import ``bot.common``, ``bot.config``, ``bot.i18n`` and ``bot.render``;
it knows nothing of incidents, changes or playbooks (those reach Slack through it).
"""
