"""Charts: what a chart shows (``spec``, plain data the domains build in the reader's language) and
drawing it off the event loop, bounded in time and memory (``renderer`` runs ``worker``, which alone
imports matplotlib through ``draw``). It imports only ``bot.common``; nothing here talks to Slack.
"""
