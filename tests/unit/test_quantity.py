"""One quantity parser for probes and actions, with Kubernetes' grammar."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.probes import kubernetes_shape
from bot.quantity import BINARY_SUFFIXES, SUFFIX_FACTORS, QuantityError, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2Gi", Decimal(2 * 2**30)),
        ("500m", Decimal("0.5")),
        ("100k", Decimal(100_000)),  # Kubernetes writes kilo in lower case
        ("1e3", Decimal(1000)),
        ("1E", Decimal(10**18)),  # a bare E is exa, not an exponent
        ("250u", Decimal("0.00025")),
        (".5Gi", Decimal(2**29)),
        ("1Pi", Decimal(2**50)),
        ("3", Decimal(3)),
        (4, Decimal(4)),
    ],
)
def test_kubernetes_forms(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "2GB", "-1Gi", "1ki", "2 Gi", "x2", "1e", "nan"])
def test_what_is_not_a_quantity_is_refused_by_name(text: str) -> None:
    with pytest.raises(QuantityError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def test_the_pvc_probe_reads_every_suffix_the_actions_read() -> None:
    # the probe had its own parser that knew K but not k, and no Pi/Ei/m
    pvc = {"spec": {}, "status": {"capacity": {"storage": "100k"}}}
    assert kubernetes_shape.pvc_status(pvc)["capacity_bytes"] == 100_000
    assert kubernetes_shape.quantity_bytes("1Pi") == 2**50


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(SUFFIX_FACTORS)))
def test_a_number_with_a_suffix_is_that_number_times_the_factor(n: int, suffix: str) -> None:
    assert parse_quantity(f"{n}{suffix}") == n * SUFFIX_FACTORS[suffix]
    if suffix in BINARY_SUFFIXES:
        assert parse_quantity(f"{n}{suffix}") % SUFFIX_FACTORS[suffix] == 0


@given(st.text(max_size=20))
def test_any_text_parses_or_is_refused_with_a_quantity_error(text: str) -> None:
    try:
        assert parse_quantity(text) >= 0
    except QuantityError:
        pass
