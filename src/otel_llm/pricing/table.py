"""A loaded price table: merging an override into the bundle, and model-id resolution."""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

from .names import candidates
from .schema import ModelPrice, PriceDocument, PriceTableError, ProviderPrices

# Distinct (provider, model) pairs seen by one process are few; the bound only stops a stream of
# made-up model names from growing memory without limit.
_RESOLVE_CACHE_SIZE = 4096


class PriceTable:
    def __init__(self, version: str, providers: Mapping[str, ProviderPrices]) -> None:
        _check_aliases(providers)
        self.version = version
        self.providers = providers
        # One name index per provider: table names and aliases, lower-case.
        self._index = {
            provider: {
                **{alias: prices.models[target] for alias, target in prices.aliases.items()},
                **prices.models,
            }
            for provider, prices in providers.items()
        }
        # Per instance, so a reload starts from an empty cache.
        self.find = lru_cache(maxsize=_RESOLVE_CACHE_SIZE)(self._find)

    @classmethod
    def from_document(cls, document: PriceDocument) -> PriceTable:
        if not document.version:
            raise PriceTableError("version: the bundled table must have a version")
        return cls(document.version, document.providers)

    def merged_with(self, override: PriceDocument) -> PriceTable:
        """This table with ``override``'s models replacing or adding to ours, provider by provider.

        A replaced model takes the override's whole price history, and the version says a custom
        table priced the call ("2026-11-01+acme-3", or "+custom" when the file has no version).
        """
        providers = dict(self.providers)
        for name, extra in override.providers.items():
            base = providers.get(name, ProviderPrices(None, {}, {}))
            providers[name] = ProviderPrices(
                source=extra.source or base.source,
                models={**base.models, **extra.models},
                aliases={**base.aliases, **extra.aliases},
            )
        return PriceTable(f"{self.version}+{override.version or 'custom'}", providers)

    def _find(self, provider: str | None, model: str) -> ModelPrice | None:
        names = candidates(model)
        # The reported provider is searched first; the others after it, because a gateway or cloud
        # (Bedrock, Vertex, Azure) reports itself as the provider of another vendor's model.
        preferred = (provider or "").lower()
        order = sorted(self._index, key=lambda name: name != preferred)
        for name in order:
            index = self._index[name]
            for candidate in names:
                if (price := index.get(candidate)) is not None:
                    return price
        return None


def _check_aliases(providers: Mapping[str, ProviderPrices]) -> None:
    for provider, prices in providers.items():
        for alias, target in prices.aliases.items():
            if target not in prices.models:
                raise PriceTableError(
                    f"providers.{provider}.aliases.{alias}: '{target}' is not a model of '{provider}'"
                )
            if alias in prices.models:
                raise PriceTableError(
                    f"providers.{provider}.aliases.{alias}: is already a model name"
                )
