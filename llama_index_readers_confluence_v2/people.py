"""Display names for user mentions, looked up in bulk and once per run (`POST /users-bulk`)."""

from __future__ import annotations

import logging
import re

from .client import ConfluenceClient
from .errors import ConfluenceError, stops_the_run
from .routes import V2

logger = logging.getLogger(__name__)

MENTION = re.compile(r'ri:account-id="([^"]+)"')
BULK = 100


class People:
    """Account id -> display name, filled as pages mention people; account ids stay otherwise."""

    def __init__(self, client: ConfluenceClient) -> None:
        self.client = client
        self.names: dict[str, str] = {}
        self._unavailable = False

    async def learn(self, storage: str) -> dict[str, str]:
        wanted = [i for i in dict.fromkeys(MENTION.findall(storage)) if i not in self.names]
        if wanted and not self._unavailable:
            for start in range(0, len(wanted), BULK):
                await self._look_up(wanted[start : start + BULK])
        for account_id in wanted:
            self.names.setdefault(account_id, account_id)
        return self.names

    async def _look_up(self, account_ids: list[str]) -> None:
        try:
            found = await self.client.post_json(f"{V2}/users-bulk", {"accountIds": account_ids})
        except ConfluenceError as exc:  # e.g. a token without read:user:confluence
            if stops_the_run(exc):
                raise
            self._unavailable = True
            logger.info("user names cannot be looked up (%s); mentions keep account ids", exc)
            return
        for user in found.get("results", []) if isinstance(found, dict) else []:
            name = user.get("displayName") or user.get("publicName")
            if user.get("accountId") and name:
                self.names[str(user["accountId"])] = str(name)
