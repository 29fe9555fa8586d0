"""Helpers for the /health tests (the fixtures are in ``tests/probe_fixtures.py``)."""

from __future__ import annotations

import socket

import httpx

from bot.config.services import ServiceConfig
from bot.probe import Prober


def prober(http: httpx.AsyncClient, **kw) -> Prober:
    kw.setdefault("endpoint_timeout", 0.5)
    kw.setdefault("total_timeout", 1.5)
    return Prober(http, **kw)


def service(url: str, profile: str = "ivan-reseller-web", name: str = "backend", **kw) -> ServiceConfig:
    return ServiceConfig(name=name, url=url, profile=profile, **kw)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def by_path(report, path: str, origin: str | None = None):
    return next(e for e in report.endpoints if e.path == path and e.origin == origin)
