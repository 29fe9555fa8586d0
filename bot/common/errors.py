"""Errors that carry a sentence a person can act on."""

from __future__ import annotations


class ChatopsError(Exception):
    """Base class: ``str(err)`` is safe to show a user (already redacted)."""

    def message(self, lang: str | None) -> str:
        """The sentence in ``lang``; subclasses that know their catalogue key re-render it."""
        return str(self)


class ConfigError(ChatopsError):
    """A setting or the services file is missing or malformed; startup stops with this line."""


class UsageError(ChatopsError):
    """A command's text cannot be understood; the sentence says how to use it."""
