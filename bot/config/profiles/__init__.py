"""Built-in health profiles (TOML data read by ``bot.probe.profiles``)."""
