"""The cost of LLM calls, from ``genai-prices`` data with the user's overrides on top.

One entry point for every span, ours or another producer's::

    from otel_llm.pricing import price_call
    cost = price_call("openai", "gpt-4o-2024-08-06", "gpt-4o", usage, at=None, service_tier="flex")
    cost.total  # nano-USD (int), or None with cost.unpriced_reason;  cost.usd as Decimal

- ``catalog.py``: which price applies (data snapshot, overrides, time, service tier), cached.
- ``compiled.py``: the arithmetic, on integers, agreeing with ``genai_prices.calc_price``.
- ``providers.py``: who serves a base URL (``gen_ai.provider.name``), ``OTEL_LLM_PROVIDERS``.
- ``loader.py`` / ``schema.py``: the override file, ``OTEL_LLM_PRICES_FILE``.
"""

from __future__ import annotations

from .cost import Cost, price_call, usage_counts, usd
from .loader import OVERRIDE_ENV
from .providers import PROVIDERS_ENV, SELF_HOSTED, declare_provider, provider_of_url

__all__ = [
    "OVERRIDE_ENV",
    "PROVIDERS_ENV",
    "SELF_HOSTED",
    "Cost",
    "declare_provider",
    "price_call",
    "pricing_version",
    "provider_of_url",
    "reload",
    "usage_counts",
    "usd",
]


def reload() -> None:
    """Forget the loaded price data and overrides: the next call reads them again."""
    from .catalog import reload as reload_catalog

    reload_catalog()


def pricing_version() -> str:
    """Which data prices calls now: ``genai-prices-<version>[@<refresh time>][+overrides-<v>]``."""
    from .catalog import current

    return current().version
