"""Access to the reference files in ../shared: skipped when absent, failing under CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing reference file {path}")
        pytest.skip(f"reference file {path} not present")
    return path
