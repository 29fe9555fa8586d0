"""The reference files in ../shared (Slack's and Railway's specifications, the runbook, the backend's record).

A test that reads them is marked ``@pytest.mark.shared`` (the one marker for this, registered in
pyproject.toml). In a checkout with no ``shared`` folder beside it, such a test is skipped and pytest
ends with "N tests need ../shared: skipped" and their names; under CI=true it fails instead
(tests/conftest.py). ``shared_path`` refuses to serve a test that is not marked, so the list of tests
that need ../shared is always complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
MARKER = "shared"
# The test being run (tests/conftest.py sets it), so ``shared_path`` can check its marker.
current_test: pytest.Item | None = None


def available() -> bool:
    return SHARED.is_dir()


def under_ci() -> bool:
    return os.environ.get("CI") == "true"


def needs_shared(item: pytest.Item) -> bool:
    return item.get_closest_marker(MARKER) is not None


def shared_path(rel: str) -> Path:
    if current_test is not None and not needs_shared(current_test):
        pytest.fail(f"{current_test.nodeid} reads ../shared/{rel}: mark it @pytest.mark.{MARKER}")
    path = SHARED / rel
    if not path.exists():
        if under_ci():
            pytest.fail(f"missing reference file {path}")
        pytest.skip(f"reference file {path} not present")
    return path
