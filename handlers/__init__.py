"""One module per slash command and its buttons: a class whose methods Bolt calls with ``ack``,
``respond`` and ``context``. Handlers parse, check, acknowledge and queue; the domains do the work.
Only the composition root (``bot.main``) builds and registers them.
"""
