"""A Railway-backed service for rollback tests: the Railway emulator (demo world) and the target."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.emulators.railway import RailwayEmulator
from sandbox.emulators.target import TargetEmulator

RAILWAY_TOKEN = "demo-api-token"
CURRENT = "5e1b7a6f-1c8d-4bde-8a7f-d6c9b2e5f0a6"
DEFAULT_TARGET = "4d0a6f5e-0b7c-4acd-9f6e-c5b8a1d4e9f5"
FAILED = "2b8e4d3c-8f5a-4eab-9d4c-a3f6e9b2c7d3"
POSTGRES_DEPLOYMENT = "6f2c8b7a-2d9e-4cef-9b8a-e7d0c3f6a1b7"


@dataclass
class RollbackEnv:
    railway: RailwayEmulator
    target: TargetEmulator

    def config(self, approvers: str = '["U0LEO", "S0SRE"]', ttl: int = 30, allow_self: bool = False) -> str:
        return f"""
[[services]]
name = "backend"
url = "{self.target.url}"
profile = "ivan-reseller-web"
railway = {{ project = "ivan-reseller", environment = "production", service = "backend" }}

[[services]]
name = "frontend"
url = "{self.target.url}"

[approvals]
approvers = {approvers}
allow_self_approval = {str(allow_self).lower()}
ttl_minutes = {ttl}
"""

    def settings(self) -> dict:
        return {"RAILWAY_API_URL": self.railway.graphql_url, "RAILWAY_API_TOKEN": RAILWAY_TOKEN,
                "CHATOPS_FOLLOW_POLL_SECONDS": 0.05, "CHATOPS_FOLLOW_TIMEOUT_SECONDS": 20}
