"""Kubernetes resource quantities (``512Mi``, ``2Gi``, ``500m``, ``1e3``), the one
parser probes and actions share.

The issue asked for ``kubernetes_asyncio.utils.quantity.parse_quantity``: it
exists on kubernetes_asyncio's main branch but in no release yet (36.1.0 ships
``utils`` without it), and pulling in the synchronous ``kubernetes`` package for
one function is not worth its footprint. This follows the same grammar as
apimachinery's ``resource.Quantity`` (decimal SI suffixes, binary suffixes, a
decimal exponent); swap it for the library's once a release carries it.
"""

from __future__ import annotations

import re
from decimal import Decimal

_GRAMMAR = re.compile(
    r"^(?P<number>\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exponent>[eE][+-]?[0-9]{1,3})|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)
SUFFIX_FACTORS: dict[str, Decimal] = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
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
BINARY_SUFFIXES = ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki")  # largest first


class QuantityError(ValueError):
    pass


def parse_quantity(text: str | int | float | Decimal) -> Decimal:
    """``"2Gi"`` → 2147483648, ``"500m"`` → 0.5, ``"1e3"`` → 1000; a number as it is.
    Anything else raises QuantityError naming the text."""
    if isinstance(text, int | float | Decimal) and not isinstance(text, bool):
        return Decimal(text)
    m = _GRAMMAR.match(str(text).strip())
    if not m:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity (e.g. 512Mi, 2Gi, 500m, 2)")
    number = Decimal(m["number"])
    if m["exponent"]:
        return number.scaleb(int(m["exponent"][1:]))
    return number * SUFFIX_FACTORS[m["suffix"]] if m["suffix"] else number


def quantity_bytes(text: str | None) -> int | None:
    """A storage quantity in bytes (rounded down); None when absent or unreadable
    (a probe reports what it found instead of failing on it)."""
    if not text:
        return None
    try:
        return int(parse_quantity(text))
    except QuantityError:
        return None
