"""One row per provider call, when several spans of one batch describe the same call.

Two producers often trace one call: an instrumentation's span around the SDK's own span (OpenLLMetry
or OpenInference over the Anthropic SDK's tracing), a framework's span around an SDK span.  So, in
one trace,

- a row that another row is nested under (the other's parent span is its span) wraps that call:
  it is dropped, and the call's innermost row, nearest the provider, takes from it what it lacks
  (response id, payloads, cache counts...) when it wraps that one call only (a span around several
  retried calls bills each of them, not itself);
- rows with the same response id (the provider's own id for the call) are one call: the most
  complete stays, filled from the others.

Spans of one call that arrive in different batches (other requests, other receiver workers) are
merged in the table after their inserts, by these same rules (``reconcile.py``), and counted once
by the analytics queries meanwhile (``analytics/queries.py``).
"""

from operator import attrgetter

from otel_llm.storage.columns import Row

# Filled one by one from the other spans of the call when the kept row lacks them (None or empty).
_FACTS = (
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
# Filled together, or not at all: each set only makes sense whole.
_GROUPS = (
    ("prompt_tokens", "completion_tokens", "total_tokens", "usage_details", "cost_usd", "cost_details", "pricing_version"),
    ("request_json", "request_bytes"),
    ("response_json", "response_bytes"),
    ("llm_config_json",),
)
_span_of, _parent_of, _response_id_of = attrgetter("span_id"), attrgetter("parent_span_id"), attrgetter("response_id")


def completeness(row: Row) -> int:
    """How much of a call a row tells (tokens, then cost, cache, model and id, payloads)."""
    return (
        16 * (row.prompt_tokens is not None or row.completion_tokens is not None)
        + 8 * (row.cost_usd is not None)
        + 4 * (row.cached_input_tokens is not None or row.cache_write_tokens is not None)
        + 2 * bool(row.response_id)
        + bool(row.response_model)
    )


def one_row_per_call(rows: list[Row]) -> list[Row]:
    """``rows`` with the spans of each call merged into one row, in their order."""
    if len(rows) < 2:
        return rows
    # Span ids alone as keys (the trace is checked on a hit): these passes run in C.
    position = dict(zip(map(_span_of, rows), range(len(rows))))
    outer_of = {}
    if not position.keys().isdisjoint(map(_parent_of, rows)):
        for i, parent in enumerate(map(_parent_of, rows)):
            outer = position.get(parent) if parent else None
            if outer is not None and outer != i and rows[outer].trace_id == rows[i].trace_id:
                outer_of[i] = outer
    response_ids = [response_id for response_id in map(_response_id_of, rows) if response_id]
    if not outer_of and len(set(response_ids)) == len(response_ids):
        return rows  # the common case, decided in a few passes in C: nothing to merge
    by_response: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        if row.response_id:
            by_response.setdefault((row.trace_id, row.response_id), []).append(i)
    rows = list(rows)
    inner_of: dict[int, list[int]] = {}
    for inner, outer in outer_of.items():
        inner_of.setdefault(outer, []).append(inner)
    # Outermost first, so what an outer row adds reaches the innermost one down a chain.
    for outer in sorted(inner_of, key=lambda i: _depth(i, outer_of)):
        if len(inner_of[outer]) == 1:
            inner = inner_of[outer][0]
            rows[inner] = _filled(rows[inner], [rows[outer]])
    dropped = set(inner_of)
    for same in by_response.values():
        same = [i for i in same if i not in dropped]
        if len(same) > 1:
            kept = max(same, key=lambda i: (completeness(rows[i]), rows[i].span_id))
            others = sorted((rows[i] for i in same if i != kept), key=completeness, reverse=True)
            rows[kept] = _filled(rows[kept], others)
            dropped.update(i for i in same if i != kept)
    return [row for i, row in enumerate(rows) if i not in dropped]


def _depth(i: int, outer_of: dict[int, int]) -> int:
    depth = 0
    while i in outer_of and depth <= len(outer_of):  # bounded: a malformed cycle cannot hang us
        i = outer_of[i]
        depth += 1
    return depth


def _filled(kept: Row, others: list[Row]) -> Row:
    """``kept`` with what it lacks taken from ``others`` (in their order)."""
    merged = kept._asdict()
    for name in _FACTS:
        if merged[name] in (None, ""):
            merged[name] = next((getattr(row, name) for row in others if getattr(row, name) not in (None, "")), merged[name])
    for group in _GROUPS:
        if merged[group[0]] in (None, ""):
            donor = next((row for row in others if getattr(row, group[0]) not in (None, "")), None)
            if donor is not None:
                merged.update((name, getattr(donor, name)) for name in group)
    merged["is_stream"] = kept.is_stream is True or any(row.is_stream is True for row in others)
    return Row(**merged)
