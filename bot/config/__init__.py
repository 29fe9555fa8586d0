"""Configuration: environment settings (``settings``), the services file (``services``) and the
built-in endpoint profiles (``profiles/``, TOML). It imports only ``bot.common``.
"""
