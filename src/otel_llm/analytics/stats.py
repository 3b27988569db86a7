"""``otel-llm stats``: usage, cost, latency and cache figures over a time window, per group."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from otel_llm.analytics import queries
from otel_llm.analytics.window import Window
from otel_llm.storage.base import Store

# Column order of every output format.
FIELDS = (
    "key",
    "calls",
    "errors",
    "error_rate",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced_calls",
    "latency_p50_ms",
    "latency_p95_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "cache_hit_ratio",
)


class NoData(LookupError):
    """The window holds no calls; the message says how to get some."""


@dataclass(frozen=True)
class Stats:
    by: str
    window: Window
    groups: list[dict[str, Any]]
    total: dict[str, Any]


def run_query(store: Store, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as dicts; the store's database goes in as the ``{db:Identifier}`` parameter."""
    columns, rows = store.query(sql, {"db": store.database, **parameters})
    return [dict(zip(columns, row)) for row in rows]


def compute(store: Store, window: Window, by: str = "model") -> Stats:
    return compute_many(store, window, [by])[by]


def compute_many(store: Store, window: Window, dimensions: Sequence[str]) -> dict[str, Stats]:
    """One table per dimension, from a single scan of the window."""
    unknown = [name for name in dimensions if name not in queries.DIMENSIONS]
    if unknown:
        raise ValueError(f"--by {unknown[0]!r}: choose one of {', '.join(queries.DIMENSIONS)}")
    rows = run_query(store, queries.stats_sql(dimensions), window.parameters)
    rolled_up = [f"rolled_up_{i}" for i in range(len(dimensions))]
    total = next((row for row in rows if all(row[r] for r in rolled_up)), None)
    if total is None or not total["calls"]:
        raise NoData(no_data_message(window))
    finished_total = _finish(total, key="TOTAL")
    tables = {}
    for i, name in enumerate(dimensions):
        groups = [_finish(row, _key(row[f"key_{i}"])) for row in rows if not row[f"rolled_up_{i}"]]
        tables[name] = Stats(by=name, window=window, groups=_ordered(name, groups), total=finished_total)
    return tables


def _ordered(dimension: str, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if dimension == "day":
        return sorted(groups, key=lambda g: g["key"])
    # Most expensive first; unpriced groups last; then by calls and name for a stable order.
    return sorted(
        groups,
        key=lambda g: (g["cost_usd"] is None, -(g["cost_usd"] or 0), -g["calls"], g["key"]),
    )


def no_data_message(window: Window) -> str:
    return (
        f"no LLM calls recorded from {window.describe()} — widen --since (e.g. --since 7d), "
        "check --url / OTEL_LLM_CLICKHOUSE_URL points at the store your app writes to, "
        "or run `otel-llm demo` to record some"
    )


def _finish(row: dict[str, Any], key: str) -> dict[str, Any]:
    """Raw aggregate row -> the published fields (ratios, percentiles split, unknowns as None)."""
    latency = _percentiles(row["latency"])
    ttft = _percentiles(row["ttft"])
    calls, inputs, cost = row["calls"], row["input"], row["cost"]
    return {
        "key": key,
        "calls": calls,
        "errors": row["errors"],
        "error_rate": row["errors"] / calls if calls else None,
        "input_tokens": inputs,
        "cached_input_tokens": row["cached_input"],
        "output_tokens": row["output"],
        "reasoning_tokens": row["reasoning"],
        # Unpriced calls add nothing: NULL cost means "unknown", shown next to it as a count.
        "cost_usd": Decimal(cost) if cost is not None else None,
        "unpriced_calls": row["unpriced_calls"],
        "latency_p50_ms": latency[0],
        "latency_p95_ms": latency[1],
        "ttft_p50_ms": ttft[0],
        "ttft_p95_ms": ttft[1],
        "cache_hit_ratio": (
            (row["cached_input"] or 0) / inputs if inputs else None
        ),
    }


def _key(value: Any) -> str:
    # Empty strings are calls with nothing set for the dimension (no llm_context customer, ...).
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text or "(none)"


def _percentiles(values: Sequence[float] | None) -> tuple[float | None, float | None]:
    # quantiles() of no values (e.g. TTFT in a group without streams) is NaN or NULL.
    if not values:
        return (None, None)
    p50, p95 = (None if v is None or math.isnan(v) else float(v) for v in values)
    return (p50, p95)
