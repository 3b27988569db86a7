"""Every SQL statement the analytics commands run, in one place.

Rules these follow (and the tests hold them to):

- Values from the user travel only as ClickHouse server-side parameters (``{name:Type}``), the
  database name included (``{db:Identifier}``). The only text spliced into SQL is chosen from the
  constant tables below (``DIMENSIONS``), never taken from input.
- Every aggregate filters on the time window first (``WINDOW``): time leads the sort key, so a
  window reads only the partitions and granules it covers.
- ``llm_traces`` is a ReplacingMergeTree: a retried insert leaves a second copy of a row until a
  background merge collapses it. Reads use ``FINAL``, which merges copies at read time. All copies
  of a row share its whole sort key (the id is derived from trace + span id, the timestamp is the
  span's), so FINAL is a streaming merge of sorted ranges with memory bounded per part, where
  ``LIMIT 1 BY id`` / ``argMax ... GROUP BY id`` hash every id of the window. FINAL is on a par
  on narrow windows and wins, in time and memory, on wide ones (``benchmarks/analytics_dedupe.py``;
  figures in benchmarks/README.md).
- One provider call is counted once even when several spans described it and reached the table
  in different batches (the exporter merges those of one batch, ``otel_llm.storage.calls``, and
  writers merge those inserted apart soon after, ``otel_llm.storage.reconcile``).
  ``CALLS`` reads the window without a row that another row of its trace is nested under (an
  instrumentation's span around the SDK's own span of the same call: the inner one is billed, as
  when a framework span wraps several retried calls), and, of the spans of a trace that carry one
  response id, only the most complete. The sets this takes are of 8-byte hashes, built from scans
  without FINAL, the cheapest of the ways tried (its price against FINAL alone, and the others':
  ``benchmarks/analytics_dedupe.py``, figures in benchmarks/README.md).
- Only ``trace`` reads the payload columns (``request_json``, ``response_json``,
  ``llm_config_json``); the aggregates name the narrow columns they need, never ``*``.
"""

from __future__ import annotations

from typing import Sequence

SOURCE = "{db:Identifier}.llm_traces FINAL"
# The sort key starts with toStartOfHour(timestamp), and ClickHouse does not derive a range on that
# expression from a range on timestamp alone: without the first two conditions a one-day window of
# a 30-day table read 899 of 900 granules; with them, 57.
WINDOW = (
    "toStartOfHour(timestamp) >= toStartOfHour({since:DateTime64(6, 'UTC')}) "
    "AND toStartOfHour(timestamp) <= toStartOfHour({until:DateTime64(6, 'UTC')}) "
    "AND timestamp >= {since:DateTime64(6, 'UTC')} AND timestamp < {until:DateTime64(6, 'UTC')}"
)

# How much of a call a row tells; the exporter ranks the spans of one batch the same way
# (otel_llm.storage.calls.completeness).
COMPLETENESS = (
    "16 * (prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL) + 8 * (cost_usd IS NOT NULL)"
    " + 4 * (cached_input_tokens IS NOT NULL OR cache_write_tokens IS NOT NULL)"
    " + 2 * (response_id != '') + (response_model != '')"
)
# The sets below read the table without FINAL: a retried copy of a row changes no set, and a scan
# without FINAL costs a fraction of one with it.
_RAW = "{db:Identifier}.llm_traces"
# Span ids that are some row's parent: those rows wrap a call of their own trace (span ids are
# 64 random bits: one matching in another trace is a 1 in 2^64 chance).
_PARENTS = f"SELECT cityHash64(parent_span_id) FROM {_RAW} WHERE {WINDOW} AND parent_span_id != ''"
# Response ids that more than one span of a trace carries (rare), and the span billed for each.
_SHARED_IDS = (
    f"SELECT cityHash64(trace_id, response_id) AS call FROM {_RAW} WHERE {WINDOW} AND response_id != '' "
    "GROUP BY call HAVING min(cityHash64(span_id)) != max(cityHash64(span_id))"
)
_BILLED_OF_SHARED = (
    f"SELECT trace_id, response_id, argMax(span_id, ({COMPLETENESS}, span_id)) FROM {_RAW} "
    f"WHERE {WINDOW} AND cityHash64(trace_id, response_id) IN ({_SHARED_IDS}) AND cityHash64(span_id) NOT IN ({_PARENTS}) "
    "GROUP BY trace_id, response_id"
)
# The rows of the window that are billed calls: what every aggregate reads (see the module doc).
CALLS = f"""(
    SELECT * EXCEPT (request_json, response_json, llm_config_json)
    FROM {SOURCE}
    WHERE {WINDOW}
      AND cityHash64(span_id) NOT IN ({_PARENTS})
      AND (
          response_id = ''
          OR cityHash64(trace_id, response_id) NOT IN ({_SHARED_IDS})
          OR (trace_id, response_id, span_id) IN ({_BILLED_OF_SHARED})
      )
)"""

# The model people are billed for: the response's (often a dated snapshot), or the requested one
# when the call failed before a response named it.
MODEL = "if(response_model != '', response_model, request_model)"


# --by name -> the grouping expression. Tables are ordered by cost (most expensive first), except
# ``day``, which reads best in date order (see stats.py).
DIMENSIONS: dict[str, str] = {
    "model": MODEL,
    "provider": "provider",
    "customer": "customer_id",
    "plan": "billing_plan_type",
    "agent": "agent_id",
    "call-type": "call_type",
    "day": "toDate(timestamp)",
}

# One scan serves several tables and the overall total: GROUPING SETS ((key_0), (key_1), ..., ())
# and grouping(key_i) = 0 on the rows of table i (1 where key_i is rolled up; all 1 = the total).
# The report reads four tables this way in one pass over the window instead of four.
# Aliases never reuse a column name: ClickHouse would substitute the alias (an aggregate) wherever
# the column is named again.
_STATS = """
SELECT
    {keys},
    {groupings},
    count() AS calls,
    countIf(is_error) AS errors,
    sum(prompt_tokens) AS input,
    sum(cached_input_tokens) AS cached_input,
    sum(completion_tokens) AS output,
    sum(reasoning_tokens) AS reasoning,
    sum(cost_usd) AS cost,
    countIf(cost_usd IS NULL) AS unpriced_calls,
    quantiles(0.5, 0.95)(latency_ms) AS latency,
    quantiles(0.5, 0.95)(ttft_ms) AS ttft
FROM {source}
WHERE {window}
GROUP BY GROUPING SETS ({sets}, ())
"""


def stats_sql(dimensions: Sequence[str]) -> str:
    """Columns ``key_i`` / ``rolled_up_i`` for ``dimensions[i]`` (names from DIMENSIONS only)."""
    numbered = list(enumerate(dimensions))
    return _STATS.format(
        keys=", ".join(f"{DIMENSIONS[name]} AS key_{i}" for i, name in numbered),
        groupings=", ".join(f"grouping(key_{i}) AS rolled_up_{i}" for i, _ in numbered),
        sets=", ".join(f"(key_{i})" for i, _ in numbered),
        source=CALLS,
        window=WINDOW,
    )


# Time buckets stay DateTime64: chDB hands a plain DateTime to Python as an int.
BUCKET = (
    "toDateTime64(toStartOfInterval(timestamp, toIntervalSecond({bucket_s:UInt32})), 0, 'UTC')"
)

# Report: one row per (time bucket, model). ``bucket_s`` is a parameter, so the report picks hourly
# or daily buckets to suit the window without changing the SQL.
TIMESERIES_BY_MODEL = f"""
SELECT
    {BUCKET} AS bucket,
    {MODEL} AS model,
    count() AS calls,
    countIf(is_error) AS errors,
    sum(cost_usd) AS cost,
    sum(prompt_tokens) AS input,
    sum(cached_input_tokens) AS cached_input,
    sum(cache_write_tokens) AS cache_write,
    sum(completion_tokens) AS output,
    sum(reasoning_tokens) AS reasoning
FROM {CALLS}
WHERE {WINDOW}
GROUP BY bucket, model
ORDER BY bucket, model
"""

LATENCY_TIMESERIES = f"""
SELECT
    {BUCKET} AS bucket,
    quantiles(0.5, 0.95)(latency_ms) AS latency,
    quantiles(0.5, 0.95)(ttft_ms) AS ttft
FROM {CALLS}
WHERE {WINDOW}
GROUP BY bucket
ORDER BY bucket
"""

# Cache reads per model and UTC day: enough to price them at the list price in force that day.
CACHE_READS = f"""
SELECT
    provider,
    {MODEL} AS model,
    toDate(timestamp) AS day,
    sum(cached_input_tokens) AS cached_input
FROM {CALLS}
WHERE {WINDOW} AND cached_input_tokens > 0
GROUP BY provider, model, day
"""

ERRORS = f"""
SELECT
    provider,
    error_type,
    count() AS calls,
    max(timestamp) AS last_seen,
    argMax(error_message, timestamp) AS last_message
FROM {CALLS}
WHERE {WINDOW} AND is_error
GROUP BY provider, error_type
ORDER BY calls DESC, provider, error_type
LIMIT 20
"""

# The most recent call's trace id: the demo points at it as an example for ``trace``.
ROW_COUNT = f"""
SELECT count() AS rows FROM {CALLS} WHERE {WINDOW}
"""

LATEST_TRACE_ID = f"""
SELECT trace_id FROM {CALLS} WHERE {WINDOW} ORDER BY timestamp DESC LIMIT 1
"""

# ``trace``: the only statements that read payload columns. A row id is a UUID; anything else is a
# trace id, found through its bloom-filter index since no time window is known.
ROW_BY_ID = "SELECT * FROM {db:Identifier}.llm_traces FINAL WHERE id = {id:UUID}"
ROWS_BY_TRACE = (
    "SELECT * FROM {db:Identifier}.llm_traces FINAL WHERE trace_id = {trace_id:String} "
    "ORDER BY timestamp, span_id"
)
