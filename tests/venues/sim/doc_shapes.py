"""Field-by-field comparison of the venue's answers with the JSON examples of Binance's
own documents (``data/binance_doc_examples.json``, taken from binance-spot-api-docs: see
its ``source``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "binance_doc_examples.json").read_text()
)

# Fields the documents name as conditional (rest-api.md "Conditional fields in Order
# Responses", user-data-stream.md "Conditional Fields in Execution Report"): an answer may
# carry them or not, whatever its example shows.
CONDITIONAL = frozenset(
    {
        "icebergQty",
        "preventedMatchId",
        "preventedQuantity",
        "stopPrice",
        "strategyId",
        "strategyType",
        "trailingDelta",
        "trailingTime",
        "usedSor",
        "workingFloor",
        "pegPriceType",
        "pegOffsetType",
        "pegOffsetValue",
        "peggedPrice",
        "expiryReason",
        "workingTime",
        "fills",
        "preventedMatches",
        "takerPreventedQuantity",  # as in the FULL answer's preventedMatches
        "origQuoteOrderQty",
        "selfTradePreventionMode",
        "sors",  # exchangeInfo: "Present only when SOR is available."
        # executionReport
        "d",
        "D",
        "j",
        "J",
        "v",
        "A",
        "B",
        "u",
        "U",
        "Cs",
        "pl",
        "pL",
        "pY",
        "W",
        "b",
        "a",
        "k",
        "uS",
        "gP",
        "gOT",
        "gOV",
        "gp",
        "eR",
    }
)


def differences(answer: Any, example: Any, path: str = "") -> list[str]:
    """Where ``answer`` does not have the fields of ``example`` (missing or extra keys, or
    a value of another JSON kind), recursing into objects and the first item of lists."""
    if example == {}:
        return []  # an example whose contents the documents leave out (in comments)
    if isinstance(example, dict):
        if not isinstance(answer, dict):
            return [f"{path or '.'}: an object expected, got {type(answer).__name__}"]
        out = [f"{path}.{k}: missing" for k in example if k not in answer and k not in CONDITIONAL]
        out += [
            f"{path}.{k}: not in the example"
            for k in answer
            if k not in example and k not in CONDITIONAL
        ]
        for k in example:
            if k in answer:
                out += differences(answer[k], example[k], f"{path}.{k}")
        return out
    if isinstance(example, list):
        if not isinstance(answer, list):
            return [f"{path or '.'}: a list expected, got {type(answer).__name__}"]
        if example and answer:
            return differences(answer[0], example[0], f"{path}[0]")
        return []
    if example is None or answer is None:
        return []  # null stands for "absent" in several examples
    kinds = (bool, int | float, str)
    for kind in kinds:
        if isinstance(example, kind):
            return (
                []
                if isinstance(answer, kind)
                else [f"{path}: {type(answer).__name__} not {type(example).__name__}"]
            )
    return []


def matches_one(answer: Any, examples: list[Any]) -> list[str]:
    """The differences from the closest of several examples (an endpoint's examples show
    its shapes: one symbol or several, FULL or MINI, ...)."""
    best: list[str] | None = None
    for example in examples:
        found = differences(answer, example)
        if best is None or len(found) < len(best):
            best = found
    return best or []
