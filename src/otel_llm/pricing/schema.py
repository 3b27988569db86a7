"""The shape of an override file (``OTEL_LLM_PRICES_FILE``), its validation, and what it becomes.

Shape (rates in USD per million tokens, JSON numbers read exactly as ``Decimal``)::

    {
      "version": "acme-2026-11",
      "providers": {
        "anthropic": {
          "source": "where these prices come from",
          "aliases": {"claude-sonnet-4-0": "claude-sonnet-4"},
          "models": {
            "claude-sonnet-4": [
              {"effective_from": "2025-05-22",          # optional: absent = since the model exists
               "input": 3, "cache_read": 0.3, "cache_write_5m": 3.75, "cache_write_1h": 6,
               "output": 15,
               "tiers": [{"above_input_tokens": 200000, "input": 6, ...}]}
            ]
          }
        }
      }
    }

A model holds one entry per price change.  A tier replaces the entry's rates for the WHOLE call when
the call's input (cache included) exceeds ``above_input_tokens``; it must list the same rates as its
entry, so that no rate silently falls back to the cheaper base price.  Unknown keys are errors:
a typo such as ``"ouput"`` must not leave a price out unnoticed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

# Rate names double as cost-component names (see cost.py).  An unsplit cache write costs the
# ``cache_write_5m`` rate; a cache read or write with no rate of its own costs the input rate.
RATE_NAMES = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")
_REQUIRED_RATES = ("input", "output")


class PriceTableError(ValueError):
    """A price document of the wrong shape; the message names the offending JSON path."""


@dataclass(frozen=True, slots=True)
class Tier:
    above_input_tokens: int
    rates: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class PriceEntry:
    effective_from: datetime | None  # None: in force since the model exists
    rates: Mapping[str, Decimal]
    tiers: tuple[Tier, ...] = ()  # ascending thresholds


@dataclass(frozen=True, slots=True)
class ModelPrice:
    provider: str
    model: str
    entries: tuple[PriceEntry, ...]  # ascending effective_from, the undated one first

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"

    def entry_at(self, at: datetime) -> PriceEntry | None:
        for entry in reversed(self.entries):
            if entry.effective_from is None or entry.effective_from <= at:
                return entry
        return None


@dataclass(frozen=True, slots=True)
class ProviderPrices:
    source: str | None
    models: Mapping[str, ModelPrice]
    aliases: Mapping[str, str]  # alias -> model name, both lower-case


@dataclass(frozen=True, slots=True)
class PriceDocument:
    version: str | None
    providers: Mapping[str, ProviderPrices]


def parse_document(text: str) -> PriceDocument:
    try:
        data = json.loads(
            text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise PriceTableError(f"invalid JSON: {exc}") from None
    top = _object(data, "the document", {"version", "description", "providers"})
    version = top.get("version")
    if version is not None and not isinstance(version, str):
        raise PriceTableError("version: must be a string")
    raw_providers = _object(top.get("providers"), "providers")
    providers = {
        name.lower(): _provider(name.lower(), value, f"providers.{name}")
        for name, value in raw_providers.items()
    }
    return PriceDocument(version=version, providers=providers)


def _reject_constant(name: str) -> Any:
    raise PriceTableError(f"invalid JSON: {name} is not a price")


def _object(value: Any, path: str, allowed: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PriceTableError(f"{path}: must be a JSON object")
    if allowed is not None and (unknown := sorted(value.keys() - allowed)):
        raise PriceTableError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    return value


def _provider(provider: str, value: Any, path: str) -> ProviderPrices:
    raw = _object(value, path, {"source", "aliases", "models"})
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise PriceTableError(f"{path}.source: must be a string")
    aliases = {}
    for alias, target in _object(raw.get("aliases", {}), f"{path}.aliases").items():
        if not isinstance(target, str):
            raise PriceTableError(f"{path}.aliases.{alias}: must name a model (a string)")
        aliases[alias.lower()] = target.lower()
    models = {
        model.lower(): ModelPrice(provider, model, _entries(entries, f"{path}.models.{model}"))
        for model, entries in _object(raw.get("models", {}), f"{path}.models").items()
    }
    return ProviderPrices(source=source, models=models, aliases=aliases)


def _entries(value: Any, path: str) -> tuple[PriceEntry, ...]:
    if not isinstance(value, list) or not value:
        raise PriceTableError(f"{path}: must be a non-empty list of price entries")
    entries = [_entry(item, f"{path}[{i}]") for i, item in enumerate(value)]
    dates = [entry.effective_from for entry in entries]
    if len(set(dates)) != len(dates):
        raise PriceTableError(f"{path}: two entries share the same effective_from")
    undated_first = datetime.min.replace(tzinfo=timezone.utc)
    return tuple(sorted(entries, key=lambda e: e.effective_from or undated_first))


def _entry(value: Any, path: str) -> PriceEntry:
    raw = _object(value, path, {"effective_from", "tiers", *RATE_NAMES})
    rates = _rates(raw, path)
    raw_tiers = raw.get("tiers", [])
    if not isinstance(raw_tiers, list):
        raise PriceTableError(f"{path}.tiers: must be a list")
    tiers = []
    for i, item in enumerate(raw_tiers):
        tier_path = f"{path}.tiers[{i}]"
        tier_raw = _object(item, tier_path, {"above_input_tokens", *RATE_NAMES})
        tier_rates = _rates(tier_raw, tier_path)
        if tier_rates.keys() != rates.keys():
            raise PriceTableError(
                f"{tier_path}: must list the same rates as its entry ({sorted(rates)})"
            )
        threshold = tier_raw.get("above_input_tokens")
        # Comparisons are exact whatever the thread's decimal context (arithmetic is not).
        if not isinstance(threshold, Decimal) or threshold <= 0 or threshold != int(threshold):
            raise PriceTableError(f"{tier_path}.above_input_tokens: must be a positive integer")
        tiers.append(Tier(int(threshold), tier_rates))
    tiers.sort(key=lambda t: t.above_input_tokens)
    return PriceEntry(_date(raw.get("effective_from"), path), rates, tuple(tiers))


def _rates(raw: Mapping[str, Any], path: str) -> dict[str, Decimal]:
    for name in _REQUIRED_RATES:
        if name not in raw:
            raise PriceTableError(f"{path}: missing required rate '{name}'")
    rates = {}
    for name in RATE_NAMES:
        if name not in raw:
            continue
        rate = raw[name]
        if not isinstance(rate, Decimal):
            raise PriceTableError(f"{path}.{name}: must be a number, got {rate!r}")
        if rate < 0:
            raise PriceTableError(f"{path}.{name}: price must not be negative, got {rate}")
        rates[name] = rate
    return rates


def _date(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise PriceTableError(
            f"{path}.effective_from: must be an ISO date like '2025-06-10', got {value!r}"
        ) from None
    # A bare date means midnight UTC: provider price changes are announced in UTC days.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
