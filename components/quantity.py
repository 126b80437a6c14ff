"""Kubernetes resource quantities ("500m", "8Gi", "1.5") parsed into exact numbers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}

# The API server's own grammar: a signed decimal number, then either a binary
# or decimal SI suffix or a decimal exponent.
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?\d+))?$"
)


def parse_quantity(text: str | int | float) -> Decimal:
    """Return the value of a Kubernetes quantity, raising ValueError if malformed."""
    if isinstance(text, bool):
        raise ValueError("a quantity is a number or a string such as '500m' or '8Gi'")
    if isinstance(text, (int, float)):
        text = repr(text) if isinstance(text, float) else str(text)
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise ValueError(
            f"'{text}' is not a Kubernetes quantity (examples: '500m', '2', '8Gi')"
        )
    try:
        number = Decimal(match["number"])
    except InvalidOperation as err:  # pragma: no cover - the regex admits only numbers
        raise ValueError(f"'{text}' is not a number") from err
    if match["exponent"] is not None:
        return number.scaleb(int(match["exponent"]))
    return number * _SUFFIXES[match["suffix"] or ""]


def canonical_quantity(text: str | int | float) -> str:
    """Return the quantity as the string the API server would echo for it."""
    if isinstance(text, str):
        return text.strip()
    return str(text)
