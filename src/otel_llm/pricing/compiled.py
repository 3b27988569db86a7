"""A ``genai-prices`` model price turned, once, into integers that price a call in microseconds.

``genai_prices.calc_price`` re-derives the same structure on every call (~70 µs).  Here it is done
once per price: each priced unit (``input_tokens``, ``cache_read_tokens``, ``web_searches``...)
with its rate as an integer count of ``10**-scale`` USD, its long-context tiers, and the priced
units below it in the library's unit hierarchy.  A call's cost then follows the library's rule
exactly: each priced unit is billed for its count minus what its priced descendants bill
(cache reads come out of input, reasoning out of output...), at the tier the call's total input
reaches; components round half-to-even to nano-USD on their own, the total from the exact sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from math import lcm
from typing import Mapping

from genai_prices.types import ModelPrice, TieredPrices
from genai_prices.units import _get_registry  # the library's own unit definitions


@dataclass(frozen=True, slots=True)
class _Unit:
    usage_key: str
    component: str  # the cost component's name: "input", "cache_read", "web_searches"...
    rate: int  # 10**-scale USD per ``per`` units, below the first tier
    tiers: tuple[tuple[int, int], ...]  # (above this many input tokens, rate), ascending
    weight: int  # common denominator / this unit's ``per``
    descendants: tuple[int, ...]  # indexes of priced units billed out of this one
    per_call: bool  # the ``requests`` unit: every call is one request, as the library counts it


_EXACT = Context(prec=60)


class UsageError(ValueError):
    """Usage whose parts exceed their whole (more cache reads than input tokens)."""


class CompiledPrice:
    __slots__ = ("units", "divisor", "exact_factor", "rates", "tiered", "_plan")

    def __init__(self, price: ModelPrice) -> None:
        registry = _get_registry()
        priced = []
        for key, value in price.__dict__.items():
            if value is None or key.startswith("_"):
                continue
            try:
                unit = registry.unit_for_price_key(key)
            except KeyError:
                continue  # a price key this library version does not know: calc_price skips it too
            priced.append((unit, value))
        # Most specific first, as the library computes leaves: descendants before ancestors.
        priced.sort(key=lambda item: (-len(item[0].dimensions), item[0].usage_key))
        decimals = [d for _, v in priced for d in _decimals(v)]
        scale = max([0, *(-int(d.as_tuple().exponent) for d in decimals)])
        common = lcm(*(unit.per for unit, _ in priced)) if priced else 1
        units = []
        for i, (unit, value) in enumerate(priced):
            descendants = tuple(
                j
                for j, (other, _) in enumerate(priced)
                if j != i and unit.dimensions.items() <= other.dimensions.items()
            )
            base, tiers = (value.base, value.tiers) if isinstance(value, TieredPrices) else (value, ())
            units.append(
                _Unit(
                    usage_key=unit.usage_key,
                    component=unit.usage_key.removesuffix("_tokens"),
                    rate=_scaled(base, scale),
                    tiers=tuple((tier.start, _scaled(tier.price, scale)) for tier in tiers),
                    weight=common // unit.per,
                    descendants=descendants,
                    per_call=unit.usage_key == "requests",
                )
            )
        self.units = tuple(units)
        self.divisor = common * 10**scale  # exact USD = sum(count * rate * weight) / divisor
        # Most prices have at most three decimals per million tokens: then every cost is a whole
        # number of nano-USD, a multiplication away, and nothing needs rounding.
        self.exact_factor = 10**9 // self.divisor if 10**9 % self.divisor == 0 else None
        # The loop of nanos() over plain tuples: (usage key, component, rate, tiers (highest
        # first), weight, descendants, per call).
        self._plan = tuple(
            (u.usage_key, u.component, u.rate, tuple(reversed(u.tiers)), u.weight, u.descendants, u.per_call)
            for u in units
        )
        # component -> (its price, per how many units), for ``otel-llm prices``
        self.rates = {unit.usage_key.removesuffix("_tokens"): (value, unit.per) for unit, value in priced}
        self.tiered = any(unit.tiers for unit in self.units)

    def nanos(self, counts: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        """(total, component -> cost) in nano-USD of a call's ``counts`` (usage key -> count)."""
        total_input = counts.get("input_tokens", 0) if self.tiered else 0
        leaves: list[int] = []
        exact: dict[str, int] = {}
        for key, component, rate, tiers, weight, descendants, per_call in self._plan:
            leaf = 1 if per_call else counts.get(key, 0)
            for j in descendants:
                leaf -= leaves[j]
            if leaf < 0:
                raise UsageError(f"usage parts exceed {key} ({counts.get(key, 0)})")
            leaves.append(leaf)
            if leaf:
                for start, tier_rate in tiers:
                    if total_input > start:
                        rate = tier_rate
                        break
                exact[component] = leaf * rate * weight
        factor = self.exact_factor
        if factor is not None:
            components = {name: value * factor for name, value in exact.items()}
            return sum(components.values()), components
        divisor = self.divisor
        components = {name: _round(value * 1_000_000_000, divisor) for name, value in exact.items()}
        return _round(sum(exact.values()) * 1_000_000_000, divisor), components


def _decimals(value: Decimal | TieredPrices) -> list[Decimal]:
    if isinstance(value, TieredPrices):
        return [value.base, *(tier.price for tier in value.tiers)]
    return [value]


def _scaled(value: Decimal, scale: int) -> int:
    return int(value.scaleb(scale, _EXACT))  # our context: the app's cannot round a price


def _round(numerator: int, divisor: int) -> int:
    """``numerator / divisor`` rounded half to even."""
    quotient, remainder = divmod(numerator, divisor)
    twice = 2 * remainder
    if twice > divisor or (twice == divisor and quotient & 1):
        quotient += 1
    return quotient
