"""A ``genai-prices`` model price turned, once, into integers that price a call in microseconds.

``genai_prices.calc_price`` re-derives the same structure on every call (its cost against ours:
``benchmarks/bench_pricing.py``).  Here it is done once per price: each priced unit
(``input_tokens``, ``cache_read_tokens``, ``web_searches``...) with its rate as an integer count
of ``10**-scale`` USD, its long-context tiers, and the priced units below it in the library's
unit hierarchy.  A call's cost then follows the library's rule
exactly: each priced unit is billed for its count minus what its priced descendants bill
(cache reads come out of input, reasoning out of output...), at the tier the call's total input
reaches; components round half-to-even to nano-USD on their own, the total from the exact sum.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from decimal import Context, Decimal
from math import lcm
from typing import Any, Mapping

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
    __slots__ = ("units", "divisor", "multiplier", "rates", "thresholds", "_plans")

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
        exact = 10**9 % self.divisor == 0
        self.multiplier = 10**9 // self.divisor if exact else None
        # component -> (its price, per how many units), for ``otel-llm prices``
        self.rates = {unit.usage_key.removesuffix("_tokens"): (value, unit.per) for unit, value in priced}
        # Every tier threshold of any unit: a call's input falls in one band between two of them,
        # and within a band every unit has one rate.
        self.thresholds = sorted({start for unit in self.units for start, _ in unit.tiers})
        self._plans: dict[tuple[frozenset[str], int], tuple[tuple[Any, ...], ...]] = {}

    def nanos(self, counts: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        """(total, component -> cost) in nano-USD of a call's ``counts`` (usage key -> count)."""
        # A tier applies when the call's total input is above its threshold (the library's rule).
        band = bisect_left(self.thresholds, counts.get("input_tokens", 0)) if self.thresholds else 0
        reported = frozenset(counts)
        plan = self._plans.get((reported, band))
        if plan is None:
            plan = self._plans[(reported, band)] = self._plan_for(reported, band)
        leaves: list[int] = []
        costs: dict[str, int] = {}
        for key, component, rate, descendants, per_call in plan:
            leaf = 1 if per_call else counts.get(key, 0)
            for j in descendants:
                leaf -= leaves[j]
            if leaf < 0:
                raise UsageError(f"usage parts exceed {key} ({counts.get(key, 0)})")
            leaves.append(leaf)
            if leaf:
                costs[component] = leaf * rate
        if self.multiplier is not None:  # weights already turn units into nano-USD
            return sum(costs.values()), costs
        divisor = self.divisor
        components = {name: _round(value * 1_000_000_000, divisor) for name, value in costs.items()}
        return _round(sum(costs.values()) * 1_000_000_000, divisor), components

    def _plan_for(self, reported: frozenset[str], band: int) -> tuple[tuple[Any, ...], ...]:
        """The loop of :meth:`nanos` for calls reporting these usage keys with an input in this
        band: only the units they reach (a unit reported, or whose priced descendant is), each
        with its rate for the band, weighted, as plain tuples."""
        units = self.units
        needed = [
            i
            for i, unit in enumerate(units)
            if unit.per_call or unit.usage_key in reported or any(units[j].usage_key in reported for j in unit.descendants)
        ]
        position = {i: n for n, i in enumerate(needed)}
        weight_scale = self.multiplier or 1
        band_input = self.thresholds[band - 1] + 1 if band else 0  # an input inside the band
        return tuple(
            (
                units[i].usage_key,
                units[i].component,
                _rate_at(units[i], band_input) * units[i].weight * weight_scale,
                tuple(position[j] for j in units[i].descendants if j in position),
                units[i].per_call,
            )
            for i in needed
        )


def _rate_at(unit: _Unit, total_input: int) -> int:
    for start, rate in reversed(unit.tiers):
        if total_input > start:
            return rate
    return unit.rate


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
