"""Logins under attack, over a real gateway: a burst sent at once meets the block before it
waits for a hashing slot, and failures are counted per (user, address) and per address, so
one user's typos through a shared 127.0.0.1 (SSH tunnels) do not lock the others out."""

from __future__ import annotations

import asyncio

import aiohttp

from omnitrade_tui.gateway.service import RunningGateway
from tests.gateway.conftest import PASSWORD


async def _login(http: aiohttp.ClientSession, gw: RunningGateway, user: str, password: str) -> int:
    async with http.post(
        gw.url + "/auth/login", json={"username": user, "password": password}
    ) as resp:
        return resp.status


async def test_a_burst_of_wrong_passwords_is_checked_at_most_up_to_the_limit(
    gateway: RunningGateway,
) -> None:
    verified = 0
    verify = gateway.auth.passwords.verify

    def counting(stored: str | None, password: str) -> bool:
        nonlocal verified
        verified += 1
        return verify(stored, password)

    gateway.auth.passwords.verify = counting  # type: ignore[method-assign]
    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(
            *(_login(http, gateway, "tom", f"wrong guess {n:02d}") for n in range(40)),
            _login(http, gateway, "tom", PASSWORD),  # the right one, in the same burst
        )
    limit = gateway.auth.guard.max_failures  # 3 in the fixture
    assert verified <= limit
    assert statuses.count(401) <= limit
    assert statuses[-1] == 429, "the right password in the burst must be refused too"
    assert statuses.count(429) >= 41 - limit
    rows = await gateway.auth.audit.recent(200, username="tom")
    assert sum(r.outcome == "failed" for r in rows) <= limit


async def test_one_users_typos_do_not_lock_out_the_others_at_the_same_address(
    gateway: RunningGateway,
) -> None:
    async with aiohttp.ClientSession() as http:
        for n in range(3):
            assert await _login(http, gateway, "tom", f"typo typo {n}") == 401
        assert await _login(http, gateway, "tom", PASSWORD) == 429  # tom is blocked here
        assert await _login(http, gateway, "vic", PASSWORD) == 200  # vic is not
        assert await _login(http, gateway, "ann", PASSWORD) == 200


async def test_guessing_across_many_names_meets_the_address_ceiling(
    gateway: RunningGateway,
) -> None:
    ceiling = gateway.auth.address_guard.max_failures
    assert ceiling > gateway.auth.guard.max_failures
    async with aiohttp.ClientSession() as http:
        for n in range(ceiling):
            assert await _login(http, gateway, f"guess{n}", "not the password") == 401
        # Now every name from this address waits, the right password included.
        assert await _login(http, gateway, "vic", PASSWORD) == 429
        async with http.post(
            gateway.url + "/auth/login", json={"username": "vic", "password": PASSWORD}
        ) as resp:
            assert "from this address" in (await resp.json())["error"]
