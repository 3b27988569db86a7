"""Which price applies to a call: ``genai-prices`` data, the user's overrides on top, resolved once.

- Data: ``genai-prices``' bundled snapshot, offline.  A newer snapshot is used when the user asked
  for one: ``otel-llm prices update`` (saved to :func:`refreshed_file`, read at first use) or the
  library's own ``genai_prices.UpdatePrices`` running in the app.
- Overrides (``OTEL_LLM_PRICES_FILE``, see ``schema.py``) win over the data for their provider.
- A (provider, model) is resolved once and cached; the price in force at the call's time and
  service tier is compiled once per distinct choice (``compiled.py``), so that after the first call
  of a model only the choice of period is left to do, and only for models whose price changes.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import genai_prices
from genai_prices import data_snapshot
from genai_prices.types import ConditionalPrice, ModelInfo, ModelPrice, StartDateConstraint

from . import loader, providers
from .compiled import CompiledPrice
from .names import candidates
from .schema import PriceEntry
from .schema import ModelPrice as OverridePrice

REFRESH_ENV = "OTEL_LLM_PRICES_CACHE"
_RESOLVED_LIMIT = 4096  # distinct (provider, model) pairs a process meets are few; made-up names are not


@dataclass(slots=True)
class Resolved:
    """Where the price of one (provider, model) comes from, or why there is none."""

    key: str | None  # "provider/model" of the price used
    source: str  # "genai-prices" or the override file
    model: ModelInfo | None = None  # from genai-prices
    variants_apply: bool = False  # the model is the provider's own (not a fallback's): tiers apply
    override: OverridePrice | None = None
    unpriced_reason: str | None = None
    settled: dict[Any, CompiledPrice] = field(default_factory=dict)  # context -> price of every call "now"
    compiled: dict[Any, CompiledPrice] = field(default_factory=dict)


class Catalog:
    """One snapshot of the data plus one override file: resolution and its caches."""

    def __init__(self, snapshot: data_snapshot.DataSnapshot, overrides: loader.Overrides | None) -> None:
        self.snapshot = snapshot
        self.overrides = overrides
        data = f"genai-prices-{genai_prices.__version__}"
        if snapshot.from_auto_update:
            data += "@" + snapshot.timestamp.strftime("%Y-%m-%dT%H:%MZ")
        self.version = data + (f"+{overrides.version}" if overrides else "")
        self._resolved: dict[tuple[str | None, str], Resolved] = {}
        # (provider, response model, request model, service tier) -> (price key, the compiled
        # price of every call priced "now" with them), or (None, why unpriced): price_call's one
        # lookup on the hot path.
        self.settled: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def resolve(self, provider: str | None, model: str) -> Resolved:
        found = self._resolved.get((provider, model))
        if found is None:
            found = self._resolve(provider, model)
            with self._lock:
                if len(self._resolved) >= _RESOLVED_LIMIT:
                    self._resolved.clear()
                self._resolved[(provider, model)] = found
        return found

    def _resolve(self, provider: str | None, model: str) -> Resolved:
        if self.overrides is not None:
            price = self.overrides.find(provider, candidates(model))
            if price is not None:
                return Resolved(price.key, self.overrides.path, override=price)
        data_id = providers.price_data_id(provider)
        if providers.is_host(provider):
            return Resolved(None, "", unpriced_reason=(
                f"no price data for provider {provider!r}: name who serves it with "
                f"{providers.PROVIDERS_ENV}, or price {model!r} in {loader.OVERRIDE_ENV}"
            ))
        if provider == providers.SELF_HOSTED:
            return Resolved(None, "", unpriced_reason=(
                f"self-hosted server (loopback or private address): no list price for {model!r}; "
                f"price it under provider {provider!r} in {loader.OVERRIDE_ENV}"
            ))
        try:
            data_provider, info = self.snapshot.find_provider_model(model, None, data_id, None)
        except LookupError:
            if data_id is not None and data_snapshot.find_provider_by_id(self.snapshot.providers, data_id) is None:
                reason = (
                    f"no price data for provider {provider!r}: name who serves it with "
                    f"{providers.PROVIDERS_ENV}, or price {model!r} in {loader.OVERRIDE_ENV}"
                )
            else:
                reason = f"no price for model {model!r} (provider {provider!r}) in {self.version}; add it via {loader.OVERRIDE_ENV}"
            return Resolved(None, "", unpriced_reason=reason)
        own = any(info is candidate for candidate in data_provider.models)
        return Resolved(f"{data_provider.id}/{info.id}", "genai-prices", model=info, variants_apply=own)

    def settled_price(self, resolved: Resolved, context: Mapping[str, str] | None) -> CompiledPrice | None:
        """The price every call "now" with ``context`` gets, once that is known for good."""
        variants = resolved.model.price_variants if (resolved.model and context and resolved.variants_apply) else None
        return resolved.settled.get(tuple(context.items()) if variants else None)

    def remember(self, call_key: tuple[Any, ...], price_key: str | None, price: CompiledPrice | str | None) -> None:
        with self._lock:
            if len(self.settled) >= _RESOLVED_LIMIT:
                self.settled.clear()
            self.settled[call_key] = (price_key, price)

    def price(self, resolved: Resolved, at: datetime | None, context: Mapping[str, str] | None) -> CompiledPrice | None:
        """The compiled price in force at ``at`` (None: now) for ``context`` (service tier...)."""
        if resolved.override is not None:
            return _override_price(resolved, at)
        info = resolved.model
        assert info is not None
        variants = info.price_variants if (context and resolved.variants_apply) else None
        context_key = tuple(context.items()) if variants else None
        if at is None and (settled := resolved.settled.get(context_key)) is not None:
            return settled
        when = _utc(at)
        conditional = info.prices if isinstance(info.prices, list) else None
        period = _period(conditional, when)
        chosen = ()
        if variants:
            chosen = tuple(
                i
                for i, variant in enumerate(variants)
                if (variant.constraint is None or variant.constraint.active(when))
                and all(context.get(k) == v for k, v in variant.when.items())
            )
        key = (period, chosen)
        compiled = resolved.compiled.get(key)
        if compiled is None:
            compiled = resolved.compiled[key] = CompiledPrice(info.get_prices(when, context if chosen else None))
        if at is None and _settled(conditional, period) and all(_started(v.constraint, when) for v in variants or ()):
            resolved.settled[context_key] = compiled
        return compiled


def _period(conditional: list[ConditionalPrice] | None, when: datetime) -> int:
    if conditional is None:
        return -1
    for i in range(len(conditional) - 1, -1, -1):
        constraint = conditional[i].constraint
        if constraint is None or constraint.active(when):
            return i
    return 0


def _settled(conditional: list[ConditionalPrice] | None, period: int) -> bool:
    """Whether ``period``, in force now, stays in force for every later call: start dates only."""
    if conditional is None:
        return True
    return period == len(conditional) - 1 and all(
        c.constraint is None or isinstance(c.constraint, StartDateConstraint) for c in conditional
    )


def _started(constraint: Any, when: datetime) -> bool:
    """Whether a variant's constraint holds now and for every later call."""
    return constraint is None or (isinstance(constraint, StartDateConstraint) and constraint.active(when))


def _override_price(resolved: Resolved, at: datetime | None) -> CompiledPrice | None:
    override = resolved.override
    assert override is not None
    if at is None and (settled := resolved.settled.get(None)) is not None:
        return settled
    when = _utc(at)
    entry = override.entry_at(when)
    if entry is None:
        return None
    compiled = resolved.compiled.get(id(entry))
    if compiled is None:
        compiled = resolved.compiled[id(entry)] = CompiledPrice(as_model_price(entry))
    if at is None and entry is override.entries[-1]:
        resolved.settled[None] = compiled
    return compiled


# Override rate -> genai-prices price key.  An unsplit cache write, and a 5-minute one, cost the
# ``cache_write_5m`` rate; a 1-hour write its own rate when given (else the 5-minute one).
_PRICE_KEYS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write_5m": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
}


def as_model_price(entry: PriceEntry) -> ModelPrice:
    """An override entry as a ``genai-prices`` price, so both are computed by the same code."""
    from genai_prices.types import Tier, TieredPrices

    prices: dict[str, Any] = {}
    for name, rate in entry.rates.items():
        if entry.tiers:
            tiers = [Tier(start=tier.above_input_tokens, price=tier.rates[name]) for tier in entry.tiers]
            prices[_PRICE_KEYS[name]] = TieredPrices(base=rate, tiers=tiers)
        else:
            prices[_PRICE_KEYS[name]] = rate
    return ModelPrice(**prices)


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(timezone.utc)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # naive: UTC, as span times are


# --- the catalog in use ------------------------------------------------------------------------

_lock = threading.Lock()
_current: Catalog | None = None
_refreshed: data_snapshot.DataSnapshot | None = None


def current() -> Catalog:
    """The catalog for this call; rebuilt when the library's snapshot changed under us."""
    catalog = _current
    if catalog is not None and (data_snapshot._custom_snapshot is None or catalog.snapshot is data_snapshot._custom_snapshot):
        return catalog
    return _rebuild()


def reload() -> None:
    """Forget what was loaded: the next call reads the refreshed data and overrides again."""
    global _current, _refreshed
    with _lock:
        _current = _refreshed = None


def _rebuild() -> Catalog:
    global _current
    with _lock:
        custom = data_snapshot._custom_snapshot  # set by genai_prices.UpdatePrices in this app
        snapshot = custom or _refreshed_snapshot() or data_snapshot.get_snapshot()
        if _current is None or _current.snapshot is not snapshot:
            _current = Catalog(snapshot, loader.load_overrides())
        return _current


def refreshed_file() -> Path:
    """Where ``otel-llm prices update`` keeps the newer data: ``OTEL_LLM_PRICES_CACHE``, else the
    user's cache directory."""
    if configured := os.environ.get(REFRESH_ENV):
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "otel-llm" / "genai-prices.json"


def _refreshed_snapshot() -> data_snapshot.DataSnapshot | None:
    """What ``otel-llm prices update`` saved, if anything: a local file, never the network."""
    global _refreshed
    path = refreshed_file()
    if _refreshed is None and path.is_file():
        try:
            raw = json.loads(path.read_bytes())
            from genai_prices.types import _providers_from_raw

            _refreshed = data_snapshot.DataSnapshot(_providers_from_raw(raw), from_auto_update=True)
            _refreshed.timestamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except Exception as error:  # noqa: BLE001 - a bad cache must not cost the bundled prices
            loader.logger.error("otel-llm pricing: ignoring %s (%s); using the bundled prices", path, error)
            return None
    return _refreshed
