"""Logins under attack, over a real gateway: a burst sent at once meets the block before it
waits for a hashing slot, and failures are counted per (user, address) and per address, so
one user's typos through a shared 127.0.0.1 (SSH tunnels) do not lock the others out."""

from __future__ import annotations

import asyncio

import aiohttp

from omnitrade_tui.gateway.roles import Role
from omnitrade_tui.gateway.service import RunningGateway
from tests.gateway.conftest import PASSWORD


async def _login(http: aiohttp.ClientSession, gw: RunningGateway, user: str, password: str) -> int:
    async with http.post(
        gw.url + "/auth/login", json={"username": user, "password": password}
    ) as resp:
        return resp.status


def _count_hashes(gw: RunningGateway) -> list[int]:
    """A one-item list counting the password verifications the gateway makes from now on."""
    verified = [0]
    verify = gw.auth.passwords.verify

    def counting(stored: str | None, password: str) -> bool:
        verified[0] += 1
        return verify(stored, password)

    # A counting stand-in for the bound method (mypy sees a plain function, not a method).
    gw.auth.passwords.verify = counting  # type: ignore[method-assign,assignment]
    return verified


async def test_a_burst_of_wrong_passwords_is_checked_at_most_up_to_the_limit(
    gateway: RunningGateway,
) -> None:
    hashed = _count_hashes(gateway)
    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(
            *(_login(http, gateway, "tom", f"wrong guess {n:02d}") for n in range(40)),
            _login(http, gateway, "tom", PASSWORD),  # the right one, in the same burst
        )
    limit = gateway.auth.guard.max_failures  # 3 in the fixture
    assert hashed[0] <= limit
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


async def test_a_burst_across_many_names_is_hashed_only_up_to_the_address_ceiling(
    gateway: RunningGateway,
) -> None:
    hashed = _count_hashes(gateway)
    ceiling = gateway.auth.address_guard.max_failures
    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(
            *(_login(http, gateway, f"name{n}", "not the password") for n in range(60))
        )
    slots = 2  # the hashing slots: logins already hashing when the ceiling is reached
    assert hashed[0] <= ceiling + slots
    assert statuses.count(429) >= 60 - ceiling - slots


async def test_many_people_logging_in_at_once_from_one_address_are_all_let_in(
    gateway: RunningGateway,
) -> None:
    names = [f"desk{n:02d}" for n in range(30)]  # more than the address's ceiling
    for name in names:
        await gateway.auth.users.add(name, Role.VIEWER, PASSWORD)
    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(*(_login(http, gateway, n, PASSWORD) for n in names))
    assert statuses == [200] * len(names)


async def test_logins_waiting_for_others_of_the_same_user_are_told_so(
    gateway: RunningGateway,
) -> None:
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(
            *(
                http.post(gateway.url + "/auth/login", json={"username": "tom", "password": p})
                for p in [PASSWORD] * 6
            )
        )
        errors = [(await a.json()).get("error", "") for a in answers if a.status == 429]
        for answer in answers:
            answer.release()
    assert errors and all("being checked" in e for e in errors)
    assert sum(a.status == 200 for a in answers) >= 3  # the fixture's limit (3)
