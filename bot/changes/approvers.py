"""Who may approve: user ids and user-group ids from ``[approvals]``, groups resolved through Slack."""

from __future__ import annotations

import logging
import time

from bot.config.services import Approvals
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0


class ApproverDirectory:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._groups: dict[str, tuple[float, set[str]]] = {}

    async def may_approve(self, rules: Approvals, user_id: str) -> bool:
        """An empty approver list means: anyone in the workspace (the two-person rule still holds)."""
        if not rules.approvers or user_id in rules.approvers:
            return bool(user_id)
        for group in (a for a in rules.approvers if a.startswith("S")):
            if user_id in await self._members(group):
                return True
        return False

    async def _members(self, group: str) -> set[str]:
        cached = self._groups.get(group)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            answer = await self._rt.slack.usergroups_users_list(usergroup=group)
            members = set(answer.get("users") or [])
        except Exception as exc:  # Slack away: fall back to what we knew, else refuse
            logger.warning("usergroups.users.list failed for %s: %s", group, exc)
            return cached[1] if cached else set()
        self._groups[group] = (time.monotonic() + GROUP_CACHE_SECONDS, members)
        return members
