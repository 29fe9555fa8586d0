"""Persistent state: audit log, probe history, approvals, incidents (SQLAlchemy 2 async)."""

from bot.store.db import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable"]
