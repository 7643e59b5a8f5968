"""``omnitrade keys``: add, list, remove and test API keys.

Secrets are never taken as command-line arguments (they would land in shell history and in
``ps``): they are typed at a hidden prompt, read from a file (``--secret-file`` for an
Ed25519 PEM) or, with ``--from-env``, from OMNITRADE_API_KEY / OMNITRADE_API_SECRET.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import overrides_from_args, start_logging
from omnitrade_tui.config import load_settings
from omnitrade_tui.secrets import (
    KeyKind,
    KeyStore,
    Secret,
    open_key_store,
)
from omnitrade_tui.venues.binance.key_check import check_key


def register(subparsers: Any) -> None:
    """Add the ``keys`` subcommand and its ``add``, ``list``, ``remove`` and ``test``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        help="add, list, remove or test API keys (kept in the OS keyring)",
        description="Manage the API keys the app trades with. Secrets live in the OS keyring "
        "(or an encrypted file on a headless box), never in the config file.",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "keyring", "file", "env"),
        default=None,
        help="where secrets live (default: the config's key_backend, else auto: the OS "
        "keyring, or the encrypted file when there is no keyring)",
    )
    parser.set_defaults(handler=_usage(parser))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    add = actions.add_parser("add", help="store a key (the secret is asked for, never an arg)")
    add.add_argument("name", help="a name for the key, e.g. testnet-main")
    add.add_argument(
        "--type",
        choices=[k.value for k in KeyKind],
        default="hmac",
        help="hmac (API key and secret, the default) or ed25519 (API key and a PEM)",
    )
    add.add_argument(
        "--for-profile", metavar="PROFILE", default=None, help="the profile this key is for"
    )
    add.add_argument(
        "--secret-file",
        metavar="FILE",
        default=None,
        help="read the secret (e.g. an Ed25519 PEM) from a file",
    )
    add.add_argument(
        "--from-env",
        action="store_true",
        help="read OMNITRADE_API_KEY and OMNITRADE_API_SECRET (and, with --api-passphrase, "
        "OMNITRADE_API_PASSPHRASE) instead of prompting",
    )
    add.add_argument(
        "--api-passphrase",
        action="store_true",
        help="the venue gave the key a passphrase too (OKX, KuCoin): ask for it",
    )
    add.set_defaults(handler=_add)

    lst = actions.add_parser("list", help="names and fingerprints (never secrets)")
    lst.set_defaults(handler=_list)

    rm = actions.add_parser("remove", help="forget a key")
    rm.add_argument("name", help="the key's name, as `omnitrade keys list` shows it")
    rm.set_defaults(handler=_remove)

    test = actions.add_parser("test", help="check a key against its venue")
    test.add_argument("name", help="the key's name, as `omnitrade keys list` shows it")
    test.add_argument(
        "--for-profile",
        metavar="PROFILE",
        default=None,
        help="profile whose venue to ask (default: the key's profile, else --profile)",
    )
    test.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=10.0,
        help="seconds to wait for the venue (default 10)",
    )
    test.set_defaults(handler=_test)


def _usage(parser: argparse.ArgumentParser) -> Any:
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)

    return handler


def _ask_hidden(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise CliError(
            "no terminal to ask for a secret on: use --from-env or --secret-file",
            ExitCode.USAGE,
        )
    return getpass.getpass(prompt)


log = logging.getLogger(__name__)


def _store(args: argparse.Namespace) -> KeyStore:
    settings = load_settings(overrides_from_args(args))
    start_logging(settings)
    choice = args.backend or settings.key_backend
    ask = getpass.getpass if sys.stdin.isatty() else None
    return open_key_store(
        settings.dirs,
        choice,
        ask_passphrase=ask,
        notice=lambda text: print(f"omnitrade note: {text}", file=sys.stderr),
    )


def _add(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.from_env:
        api_key = os.environ.get("OMNITRADE_API_KEY", "")
        secret = os.environ.get("OMNITRADE_API_SECRET", "")
        if not api_key:
            raise CliError("--from-env: OMNITRADE_API_KEY is not set", ExitCode.USAGE)
    else:
        api_key = _ask_hidden("API key: ")
        secret = ""
    if args.secret_file:
        try:
            secret = Path(args.secret_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(
                f"cannot read --secret-file {args.secret_file}: {exc.strerror}", ExitCode.USAGE
            ) from None
    if not secret:
        if args.from_env:
            raise CliError("--from-env: OMNITRADE_API_SECRET is not set", ExitCode.USAGE)
        secret = _ask_hidden("Secret: ")
    api_passphrase: str | None = None
    if args.api_passphrase:
        if args.from_env:
            api_passphrase = os.environ.get("OMNITRADE_API_PASSPHRASE", "")
            if not api_passphrase:
                raise CliError(
                    "--from-env --api-passphrase: OMNITRADE_API_PASSPHRASE is not set",
                    ExitCode.USAGE,
                )
        else:
            api_passphrase = _ask_hidden("The venue's API passphrase (not the key file's): ")
    info = store.add(
        args.name,
        KeyKind(args.type),
        Secret(api_key),
        Secret(secret),
        args.for_profile,
        api_passphrase=Secret(api_passphrase) if api_passphrase else None,
    )
    log.info(
        "key added",
        extra={"key": info.name, "fingerprint": info.fingerprint, "store": info.backend},
    )
    print(f"added key {info.name!r} ({info.kind.value}, {info.fingerprint}) to {info.backend}")
    return int(ExitCode.OK)


def _list(args: argparse.Namespace) -> int:
    keys = _store(args).list_keys()
    if not keys:
        print("no keys (add one with `omnitrade keys add NAME`)")
        return int(ExitCode.OK)
    print(f"{'NAME':<20} {'TYPE':<8} {'FINGERPRINT':<24} {'STORE':<8} PROFILE")
    for k in keys:
        print(
            f"{k.name:<20} {k.kind.value:<8} {k.fingerprint:<24} {k.backend:<8} {k.profile or ''}"
        )
    return int(ExitCode.OK)


def _remove(args: argparse.Namespace) -> int:
    _store(args).remove(args.name)
    log.info("key removed", extra={"key": args.name})
    print(f"removed key {args.name!r}")
    return int(ExitCode.OK)


def _test(args: argparse.Namespace) -> int:
    settings = load_settings(overrides_from_args(args))
    store = _store(args)
    info = store.info(args.name)
    profile_name = args.for_profile or info.profile or settings.profile.name
    profile = settings.profiles.get(profile_name)
    if profile is None:
        raise CliError(
            f"unknown profile {profile_name!r}; known: {', '.join(sorted(settings.profiles))}",
            ExitCode.PROFILE,
        )
    if not profile.rest_url:
        raise CliError(
            f"profile {profile.name!r} has no REST URL (the simulated venue runs in-process); "
            "test against testnet, demo, live or a custom profile: --for-profile NAME",
            ExitCode.PROFILE,
        )
    key = store.get(args.name)
    result = asyncio.run(check_key(key, profile.rest_url, timeout=args.timeout))
    log.info(
        "key checked",
        extra={
            "key": key.name,
            "fingerprint": key.fingerprint,
            "profile": profile.name,
            "can_trade": result.can_trade,
            "can_withdraw": result.can_withdraw,
        },
    )
    print(
        f"key {key.name!r} ({key.fingerprint}) works on {profile.name} ({profile.rest_url}): "
        f"account {result.account_type or '?'}, can trade: {'yes' if result.can_trade else 'NO'}"
    )
    for warning in result.warnings:
        log.warning("key %s: %s", key.name, warning)
        print(f"WARNING: {warning}", file=sys.stderr)
    return int(ExitCode.OK)
