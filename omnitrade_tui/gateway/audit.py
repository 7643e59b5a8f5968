"""The gateway's audit log: who did what, from where, and how it ended; refusals bounded.

Every entry is stored structured (time, user, address, action, detail, outcome in their own
columns) and shown escaped (``omnitrade_tui.escape.shown``), so a user name or a detail holding a
newline or an escape sequence cannot forge an entry in ``omnitrade gateway audit``.

Refusals are what a hostile client can produce at will, so they are bounded per client: each
(user, address) may write ``burst`` refusal rows at once and ``rate`` a second after that.
The refusals beyond are counted, not lost: the next refusal row of that client says how many
were not recorded one by one, and ``flush`` writes the count when the terminal detaches.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from omnitrade_tui.escape import shown
from omnitrade_tui.gateway.throttle import RateLimiter, address_key
from omnitrade_tui.store.gateway_repository import AuditRecord, GatewayRepository

Clock = Callable[[], float]


class Outcome:
    """The outcomes the audit log uses (plain strings in the store)."""

    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"
    BLOCKED = "blocked"


# Audit columns are bounded; a long value (a made-up user name, a large payload) is cut.
_AUDIT_LIMITS = {"username": 64, "address": 128, "action": 64, "outcome": 16}
_AUDIT_DETAIL_MAX = 4000
_MAX_CLIENTS = 10_000


class AuditLog:
    """The gateway's audit log in the store (see the module docstring)."""

    def __init__(
        self,
        repo: GatewayRepository,
        *,
        clock: Clock = time.time,
        refusals: RateLimiter | None = None,
    ) -> None:
        self.repo = repo
        self._clock = clock
        self._refusals = (
            refusals
            if refusals is not None
            else RateLimiter(rate=2.0, burst=20.0, max_keys=_MAX_CLIENTS)
        )
        self._unrecorded: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def record(
        self, username: str, address: str, action: str, detail: str, outcome: str
    ) -> None:
        """Append one entry (values too long for their column are cut)."""
        await self.repo.add_audit(
            int(self._clock() * 1000),
            username[: _AUDIT_LIMITS["username"]],
            address[: _AUDIT_LIMITS["address"]],
            action[: _AUDIT_LIMITS["action"]],
            detail[:_AUDIT_DETAIL_MAX],
            outcome[: _AUDIT_LIMITS["outcome"]],
        )

    @staticmethod
    def _client(username: str, address: str) -> tuple[str, str]:
        return (username[: _AUDIT_LIMITS["username"]], address_key(address))

    async def refusal(
        self,
        username: str,
        address: str,
        action: str,
        detail: str,
        outcome: str = Outcome.DENIED,
        *,
        per_user: bool = True,
    ) -> bool:
        """Record a refusal within the client's budget (else count it); whether written.

        The client is (``username``, address); with ``per_user=False`` (a name the client
        only claims, as in a login) the address alone, so made-up names get no budget each.
        """
        client = self._client(username if per_user else "", address)
        if self._refusals.acquire(client) > 0:
            self._unrecorded[client] = self._unrecorded.pop(client, 0) + 1
            while len(self._unrecorded) > _MAX_CLIENTS:
                self._unrecorded.popitem(last=False)
            return False
        skipped = self._unrecorded.pop(client, 0)
        if skipped:
            detail = f"{detail} (+{skipped} refusals of this client not recorded one by one)"
        await self.record(username, address, action, detail, outcome)
        return True

    async def flush(self, username: str, address: str, *, per_user: bool = True) -> None:
        """Write how many of the client's refusals were not recorded one by one, if any."""
        skipped = self._unrecorded.pop(self._client(username if per_user else "", address), 0)
        if skipped:
            await self.record(
                username,
                address,
                "refusals",
                f"{skipped} refusals not recorded one by one (over the audit budget)",
                Outcome.DENIED,
            )

    async def recent(self, limit: int = 100, username: str | None = None) -> list[AuditRecord]:
        """The newest ``limit`` entries (of one user, if given), newest first."""
        return await self.repo.recent_audit(limit, username)


def format_entry(entry: AuditRecord, when: str) -> str:
    """One entry as a line of ``omnitrade gateway audit``, every field escaped."""
    name = shown(entry.username) or "-"
    return (
        f"{when}  {shown(entry.outcome):<7} {name:<16} {shown(entry.address):<22} "
        f"{shown(entry.action)}  {shown(entry.detail)}"
    )
