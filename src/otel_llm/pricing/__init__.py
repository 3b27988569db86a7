"""Provider-neutral cost of LLM calls from a bundled, versioned price table (``prices.json``).

``OTEL_LLM_PRICES_FILE`` may name a JSON file of the same shape whose models add to or replace the
bundled ones; see ``schema.py`` for the shape and ``cost.py`` for the arithmetic.

    from otel_llm.pricing import compute_cost
    result = compute_cost("openai", "gpt-4o-2024-08-06", usage)
    result.usd  # Decimal, or None with result.unpriced_reason
"""

from __future__ import annotations

from typing import Any

from .cost import CostResult, NanoCost, call_nanos, compute_call_cost, compute_cost
from .loader import OVERRIDE_ENV, bundled_table, current_table, reload
from .schema import ModelPrice, PriceEntry, Tier

__all__ = [
    "OVERRIDE_ENV",
    "PRICING_VERSION",
    "CostResult",
    "NanoCost",
    "ModelPrice",
    "PriceEntry",
    "Tier",
    "call_nanos",
    "compute_call_cost",
    "compute_cost",
    "lookup",
    "reload",
]

# The bundled table's version, read from prices.json on first access (below) so that importing
# the package does no file I/O.  Costs from an override carry "<this>+<override version>".
PRICING_VERSION: str


def lookup(provider: str | None, model: str | None) -> ModelPrice | None:
    """The table entry ``compute_cost`` would use for this model, override file included."""
    return current_table().find(provider, model) if model else None


def __getattr__(name: str) -> Any:
    if name == "PRICING_VERSION":
        return bundled_table().version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
