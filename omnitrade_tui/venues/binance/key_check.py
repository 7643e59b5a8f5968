"""Checking an API key against Binance: a signed ``GET /api/v3/account`` through the
connector's own REST client (its signer, clock offset and -1021 resync, governor and
circuit breaker), telling whether the key can trade and, loudly, whether it can withdraw.

``omnitrade keys test`` and the start of a run on a venue profile use it; the key store
(``omnitrade_tui.secrets``) only keeps keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from omnitrade_tui.config import Profile
from omnitrade_tui.secrets import ApiKey, KeyCheckError, KeyKind, VenueUnreachableError
from omnitrade_tui.venues.binance.order_schemas import AccountAnswer, account_decoder
from omnitrade_tui.venues.binance.rest import (
    BinanceError,
    BinanceRest,
    Credentials,
    MalformedAnswer,
    OutcomeUnknown,
)

log = logging.getLogger(__name__)

#: How long after its timestamp the check may reach the venue: more lenient than an order's,
#: since a slow link should not make a good key look bad.
CHECK_RECV_WINDOW_MS = 10_000


def credentials_of(key: ApiKey) -> Credentials:
    """The connector's credentials for a stored key."""
    if key.kind is KeyKind.HMAC:
        return Credentials(api_key=key.api_key.reveal(), secret=key.secret.reveal())
    return Credentials(api_key=key.api_key.reveal(), private_key=key.ed25519_private_key())


@dataclass(frozen=True)
class AccountCheck:
    """What the venue said about a key's account."""

    can_trade: bool
    can_withdraw: bool
    permissions: list[str]
    account_type: str

    @property
    def warnings(self) -> list[str]:
        """What the operator must be told loudly."""
        out = []
        if not self.can_trade:
            out.append("this key CANNOT TRADE (enable spot trading for it on the venue)")
        if self.can_withdraw:
            out.append(
                "this key CAN WITHDRAW funds: a trading client does not need that; "
                "create a key without withdrawal permission"
            )
        return out


async def check_key(key: ApiKey, rest_url: str, timeout: float = 10.0) -> AccountCheck:
    """Ask the venue at ``rest_url`` (a profile's, without ``/api``) about the key's account.

    Raises:
        VenueUnreachableError: no answer, a 5xx, or an answer that is not Binance's.
        KeyCheckError: the venue refused the key, its signature, or our clock.
    """
    rest = BinanceRest(rest_url.rstrip("/") + "/api", credentials_of(key), timeout_s=timeout)
    try:
        account: AccountAnswer = await rest.request(
            "GET",
            "account",
            {"omitZeroBalances": "true", "recvWindow": CHECK_RECV_WINDOW_MS},
            signed=True,
            decoder=account_decoder,
        )
    except MalformedAnswer:
        raise VenueUnreachableError(
            f"the venue at {rest_url} answered with something other than a Binance account "
            "(is this a Binance-compatible REST URL?)"
        ) from None
    except OutcomeUnknown as exc:  # a timeout or a 5xx: a GET changes nothing, so say why
        said = f"HTTP {exc.status}" if exc.status else exc.msg
        raise VenueUnreachableError(
            f"cannot reach the venue at {rest_url} ({said}); try again later"
        ) from None
    except BinanceError as exc:
        if exc.status == 0:
            raise VenueUnreachableError(
                f"cannot reach the venue at {rest_url}: {exc.msg}"
            ) from None
        if exc.code is None:  # no Binance error in the answer: not a Binance REST API
            raise VenueUnreachableError(
                f"the venue at {rest_url} answered HTTP {exc.status} with no Binance error "
                "(is this a Binance-compatible REST URL?)"
            ) from None
        raise KeyCheckError(_explain_refusal(key.name, exc)) from None
    finally:
        await rest.aclose()
    return AccountCheck(
        can_trade=account.can_trade,
        can_withdraw=account.can_withdraw,
        permissions=list(account.permissions),
        account_type=account.account_type,
    )


async def verify_run_key(key: ApiKey, profile: Profile, timeout: float = 10.0) -> AccountCheck:
    """The check a run makes when it connects with a key: it must be able to trade.

    A key that can withdraw is allowed but logged as a warning (the caller shows
    ``AccountCheck.warnings`` loudly too).

    Raises:
        KeyCheckError: the key is refused, or cannot trade.
        VenueUnreachableError: no answer.
    """
    if not profile.rest_url:
        raise KeyCheckError(
            f"profile {profile.name!r} has no REST URL to check key {key.name!r} on"
        )
    result = await check_key(key, profile.rest_url, timeout=timeout)
    if not result.can_trade:
        raise KeyCheckError(
            f"key {key.name!r} ({key.fingerprint}) cannot trade on {profile.name}: enable spot "
            "trading for it on the venue, or use another key"
        )
    for warning in result.warnings:
        log.warning("key %s on %s: %s", key.name, profile.name, warning)
    return result


def _explain_refusal(name: str, exc: BinanceError) -> str:
    code, status = exc.code, exc.status
    said = f"HTTP {status}" + (f", code {code}: {exc.msg}" if code is not None else "")
    if code == -1022:
        return f"key {name!r}: the signature was refused ({said}); the secret does not match"
    if code == -1021:
        return f"key {name!r}: the venue says our clock is off ({said}); sync the system clock"
    if code in (-2014, -2015) or status in (401, 403):
        return (
            f"key {name!r} was refused ({said}): wrong or revoked key, an IP not on its "
            "allow-list, or a key made for another venue (testnet keys do not work on live)"
        )
    return f"key {name!r}: the venue refused the check ({said})"
