"""The user's price overrides (``OTEL_LLM_PRICES_FILE``): negotiated discounts, fine-tunes,
self-hosted models, and anything the price data does not have yet.

Read once, at the first priced call.  A broken file is logged and ignored, never raised into the
app: calls are then priced from the data alone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Mapping

from .schema import ModelPrice, PriceTableError, ProviderPrices, parse_document

OVERRIDE_ENV = "OTEL_LLM_PRICES_FILE"

logger = logging.getLogger("otel_llm.pricing")


@dataclass(frozen=True)
class Overrides:
    path: str
    version: str  # "overrides-<the file's version>", part of every row's pricing version
    providers: Mapping[str, ProviderPrices]

    def find(self, provider: str | None, names: tuple[str, ...]) -> ModelPrice | None:
        """The override for one of ``names`` (most specific first) under ``provider``; without a
        provider, under any."""
        searched = [self.providers[provider]] if provider in self.providers else []
        if provider is None:
            searched = list(self.providers.values())
        for prices in searched:
            for name in names:
                target = prices.aliases.get(name, name)
                if (price := prices.models.get(target)) is not None:
                    return price
        return None


def load_overrides() -> Overrides | None:
    path = os.environ.get(OVERRIDE_ENV, "").strip()
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            document = parse_document(file.read())
    except (OSError, UnicodeDecodeError, PriceTableError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        logger.error("otel-llm pricing: ignoring %s=%s: %s; pricing from the price data alone", OVERRIDE_ENV, path, reason)
        return None
    _check_aliases(document.providers)
    return Overrides(path, f"overrides-{document.version or 'custom'}", document.providers)


def _check_aliases(providers: Mapping[str, ProviderPrices]) -> None:
    for provider, prices in providers.items():
        for alias, target in prices.aliases.items():
            if target not in prices.models:
                logger.error("otel-llm pricing: %s: providers.%s.aliases.%s names no model", OVERRIDE_ENV, provider, alias)
