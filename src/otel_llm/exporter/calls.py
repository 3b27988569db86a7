"""One row per provider call, when several spans of one batch describe the same call.

Two producers often trace one call: an instrumentation's span around the SDK's own span (OpenLLMetry
or OpenInference over the Anthropic SDK's tracing), a framework's span around an SDK span.  Spans
are the same call when, in one trace,

- one is nested in the other (the row's parent span is the other row's span) and their response ids
  do not differ: the inner span is the one nearest the provider, so it stays, and takes from the
  outer one what it lacks (its response id, payloads, cache counts...);
- or they carry the same response id (the provider's own id for the call): the most complete stays.

Spans of one call that arrive in different batches (other requests, other receiver workers) are
counted once by the analytics queries instead, by the same two rules (``analytics/queries.py``).
"""

from __future__ import annotations

from otel_llm.storage.columns import COLUMN_NAMES

_I = {name: index for index, name in enumerate(COLUMN_NAMES)}
_TRACE, _SPAN, _PARENT, _RESPONSE_ID = _I["trace_id"], _I["span_id"], _I["parent_span_id"], _I["response_id"]
_INPUT, _OUTPUT, _COST = _I["prompt_tokens"], _I["completion_tokens"], _I["cost_usd"]
# Filled one by one from the other spans of the call when the kept row lacks them (None or empty).
_FACTS = tuple(
    _I[name]
    for name in (
        "provider",
        "request_model",
        "response_model",
        "response_id",
        "finish_reason",
        "server_address",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "ttft_ms",
        "http_status_code",
    )
)
# Filled together, or not at all: each set only makes sense whole.
_GROUPS = (
    tuple(_I[name] for name in ("prompt_tokens", "completion_tokens", "total_tokens", "usage_details", "cost_usd", "cost_details", "pricing_version")),
    tuple(_I[name] for name in ("request_json", "request_bytes")),
    tuple(_I[name] for name in ("response_json", "response_bytes")),
    (_I["llm_config_json"],),
)
_STREAM = _I["is_stream"]


def completeness(row: tuple) -> int:
    """How much of a call a row tells (tokens, then cost, cache, model and id, payloads)."""
    return (
        16 * (row[_INPUT] is not None or row[_OUTPUT] is not None)
        + 8 * (row[_COST] is not None)
        + 4 * (row[_I["cached_input_tokens"]] is not None or row[_I["cache_write_tokens"]] is not None)
        + 2 * bool(row[_RESPONSE_ID])
        + bool(row[_I["response_model"]])
    )


def one_row_per_call(rows: list[tuple]) -> list[tuple]:
    """``rows`` with the spans of each call merged into one row (order kept, first row's place)."""
    if len(rows) < 2:
        return rows
    parent_of = list(range(len(rows)))

    def root(i: int) -> int:
        while parent_of[i] != i:
            parent_of[i] = parent_of[parent_of[i]]
            i = parent_of[i]
        return i

    by_span = {(row[_TRACE], row[_SPAN]): i for i, row in enumerate(rows)}
    by_response: dict[tuple, int] = {}
    merged = False
    for i, row in enumerate(rows):
        outer = by_span.get((row[_TRACE], row[_PARENT])) if row[_PARENT] else None
        if outer is not None and not (row[_RESPONSE_ID] and rows[outer][_RESPONSE_ID] and row[_RESPONSE_ID] != rows[outer][_RESPONSE_ID]):
            parent_of[root(outer)] = root(i)
            merged = True
        if row[_RESPONSE_ID]:
            same = by_response.setdefault((row[_TRACE], row[_RESPONSE_ID]), i)
            if same != i and root(same) != root(i):
                parent_of[root(same)] = root(i)
                merged = True
    if not merged:
        return rows
    calls: dict[int, list[int]] = {}
    for i in range(len(rows)):
        calls.setdefault(root(i), []).append(i)
    out = []
    for members in sorted(calls.values()):
        out.append(_merge([rows[i] for i in members]) if len(members) > 1 else rows[members[0]])
    return out


def _merge(rows: list[tuple]) -> tuple:
    """The kept row (innermost, then most complete) with what the others add."""
    # Innermost: no other row of the call is nested in it.
    inner = [row for row in rows if not any(other[_PARENT] == row[_SPAN] for other in rows)] or rows
    kept = min(inner, key=lambda row: (-completeness(row), row[_SPAN]))
    others = sorted((row for row in rows if row is not kept), key=completeness, reverse=True)
    merged = list(kept)
    for index in _FACTS:
        if merged[index] in (None, ""):
            merged[index] = next((row[index] for row in others if row[index] not in (None, "")), merged[index])
    for group in _GROUPS:
        if merged[group[0]] in (None, ""):
            donor = next((row for row in others if row[group[0]] not in (None, "")), None)
            if donor is not None:
                for index in group:
                    merged[index] = donor[index]
    merged[_STREAM] = any(row[_STREAM] is True for row in rows)
    return tuple(merged)
