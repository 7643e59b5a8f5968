"""Bus values by name, for carrying them across a process (the Redis bridge, the gateway).

A value on the bus is an event, a command, a plain domain struct (a trade, a ticker...) or
a command's reply (a struct, a list of structs, or a plain JSON value). On the wire each
travels as ``(kind, msgpack bytes)``: ``kind`` is the struct's class name, ``list:<name>``
for a list of them, ``tuple:<name>`` for a tuple, or ``plain`` for ``None``/bool/int/str.
The receiving side turns the kind back into a typed msgpack decoder, built once and cached.

Which struct types may travel is not listed here: it is what the bus contract
(``bus/contract.py``) names, the events of its topics, its commands and the structs their
replies are made of, so a new topic or command crosses the wire once it is in the contract.
"""

from __future__ import annotations

from typing import Any

import msgspec

from omnitrade_tui.bus import contract

PLAIN = "plain"


class UnknownWireType(ValueError):
    """A peer sent a value of a type this process does not know (a newer version?)."""


def enc_hook(value: Any) -> Any:
    """msgspec's hook for what it does not encode itself: a contract ``Topic`` (a ``str``
    subclass) travels as its plain name."""
    if isinstance(value, str):
        return str(value)
    raise NotImplementedError(f"a {type(value).__name__} cannot cross the wire")


def kind_of(value: Any) -> str:
    """The wire kind of ``value`` (see the module docstring)."""
    if isinstance(value, msgspec.Struct):
        return type(value).__name__
    if isinstance(value, list | tuple) and value and isinstance(value[0], msgspec.Struct):
        prefix = "list" if isinstance(value, list) else "tuple"
        return f"{prefix}:{type(value[0]).__name__}"
    if value is None or isinstance(value, bool | int | float | str | list | tuple | dict):
        return PLAIN  # builtins (a tuple of them comes back as a list)
    raise UnknownWireType(f"a {type(value).__name__} cannot cross the wire")


class WireTypes:
    """The value types a bridge may carry, by kind, with one cached decoder each: the struct
    types of the bus contract (``contract.wire_types``)."""

    def __init__(self) -> None:
        self._decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {}
        self._declared = contract.declared_count()
        self._known: dict[str, type[Any]] = {t.__name__: t for t in contract.wire_types()}

    def type_named(self, name: str) -> type[Any]:
        """The struct class called ``name``."""
        found = self._known.get(name)
        if found is None and self._declared != contract.declared_count():
            # A command was declared since (``contract.declare``): learn it.
            self._declared = contract.declared_count()
            self._known = {t.__name__: t for t in contract.wire_types()}
            found = self._known.get(name)
        if found is None:
            raise UnknownWireType(f"unknown type {name!r} on the wire")
        return found

    def decoder(self, kind: str) -> msgspec.msgpack.Decoder[Any]:
        """The decoder of values of wire kind ``kind``."""
        dec = self._decoders.get(kind)
        if dec is None:
            target: Any
            if kind == PLAIN:
                target = Any
            elif kind.startswith("list:"):
                target = list[self.type_named(kind[5:])]  # type: ignore[misc]
            elif kind.startswith("tuple:"):
                target = tuple[self.type_named(kind[6:]), ...]  # type: ignore[misc]
            else:
                target = self.type_named(kind)
            dec = msgspec.msgpack.Decoder(target)
            self._decoders[kind] = dec
        return dec

    def decode(self, kind: str, data: bytes | msgspec.Raw) -> Any:
        """The value of wire kind ``kind`` encoded in ``data``."""
        return self.decoder(kind).decode(data)
