"""Name precisely what went wrong with one request, and check a JSON body against its expected shape."""

from __future__ import annotations

import errno
import socket
import ssl
import sys
from typing import Any

import httpx

# What each failure means for the endpoint's verdict.
FAILURE_VERDICT = {
    "dns": "down",
    "refused": "down",
    "tls": "down",
    "closed": "down",
    "network": "down",
    "timeout": "timeout",
    "http_5xx": "down",
    "http_4xx": "degraded",
    "not_json": "unexpected",
    "shape_changed": "unexpected",
    "too_large": "unexpected",
    "redirect_loop": "unexpected",
    "redirect_offsite": "unexpected",
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class _NotLoaded(Exception):
    """Stands for an aiohttp error class while aiohttp is not loaded: no exception is one."""


def _aiohttp_errors() -> tuple[type[BaseException], type[BaseException], type[BaseException]]:
    """aiohttp's (DNS, any client, server gone) error classes. Only the aiohttp transport raises them,
    and it has loaded aiohttp by then: a probe on httpx's own transport (``chatops health <url>``) does
    not pay for importing it."""
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None:
        return _NotLoaded, _NotLoaded, _NotLoaded
    return aiohttp.ClientConnectorDNSError, aiohttp.ClientError, aiohttp.ServerDisconnectedError


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """(failure code, short technical detail) for an exception raised while sending a request.

    The root cause decides, not the wrapper: the aiohttp transport for httpx maps every aiohttp
    connection error (refused, DNS, TLS, server gone) to ``httpx.ConnectTimeout``.
    """
    if isinstance(exc, TimeoutError):
        return "timeout", "timed out"
    chain = _chain(exc)
    dns_error, client_error, server_gone = _aiohttp_errors()
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, (socket.gaierror, dns_error)) for e in chain) or any(
            s in text for s in ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                                "no address associated", "temporary failure in name resolution")):
        return "dns", "DNS lookup failed"
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        return "tls", _tls_detail(chain)
    if any(isinstance(e, ConnectionRefusedError) or (isinstance(e, OSError) and e.errno == errno.ECONNREFUSED)
           for e in chain) or "connection refused" in text:
        return "refused", "connection refused"
    if any(isinstance(e, TimeoutError) for e in chain) or (
            isinstance(exc, httpx.TimeoutException) and not any(isinstance(e, client_error) for e in chain)):
        return "timeout", "timed out"
    if any(isinstance(e, (httpx.RemoteProtocolError, server_gone)) for e in chain):
        return "closed", "connection closed without a response"
    if isinstance(exc, httpx.TooManyRedirects):
        return "redirect_loop", "too many redirects"
    return "network", type(chain[-1]).__name__


def _tls_detail(chain: list[BaseException]) -> str:
    for e in reversed(chain):  # the root cause, not a library's wrapper of it
        if isinstance(e, ssl.SSLCertVerificationError) and getattr(e, "verify_message", None):
            return f"TLS certificate rejected: {e.verify_message}"
        if isinstance(e, ssl.SSLError) and getattr(e, "reason", None):
            return f"TLS handshake failed: {e.reason}"
    return "TLS handshake failed"


def status_failure(status: int) -> str | None:
    if status >= 500:
        return "http_5xx"
    if status >= 400:
        return "http_4xx"
    return None


_MISSING = object()


def dig(body: Any, path: str) -> Any:
    """``body["a"]["b"]`` for ``"a.b"``; a private sentinel when a key is absent."""
    value = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def _type_ok(value: Any, spec: str) -> bool:
    for name in spec.split("|"):
        if (name == "any"
                or (name == "string" and isinstance(value, str))
                or (name == "bool" and isinstance(value, bool))
                or (name == "number" and isinstance(value, int | float) and not isinstance(value, bool))
                or (name == "integer" and isinstance(value, int) and not isinstance(value, bool))
                or (name == "object" and isinstance(value, dict))
                or (name == "array" and isinstance(value, list))
                or (name == "null" and value is None)):
            return True
    return False


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def shape_problem(body: Any, shape: dict[str, str]) -> str | None:
    """The first way ``body`` differs from ``shape`` (missing key, wrong type), or None."""
    if not isinstance(body, dict):
        return f"expected a JSON object, got {_type_name(body)}"
    for key, spec in shape.items():
        value = dig(body, key)
        if is_missing(value):
            return f"missing key {key}"
        if not _type_ok(value, spec):
            return f"{key} is {_type_name(value)}, expected {spec}"
    return None
