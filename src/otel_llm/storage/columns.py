"""The columns of ``llm_traces`` that writers fill, in table order, with their ClickHouse types,
and ``Row``, the type of a row, made from them.

Writers in processes that cannot open the database (the embedded store admits one process at a
time) still have to encode rows, so the column list lives in code rather than being read from the
server. ``tests/test_schema.py`` checks it against ``DESCRIBE llm_traces`` so the two cannot drift.
``inserted_at`` is absent on purpose: the server fills it, and it is the ReplacingMergeTree version.
"""

from __future__ import annotations

from collections import namedtuple

from otel_llm.storage.types import ColumnType, parse

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "UUID"),
    ("timestamp", "DateTime64(6, 'UTC')"),
    ("end_timestamp", "DateTime64(6, 'UTC')"),
    ("trace_id", "String"),
    ("span_id", "String"),
    ("parent_span_id", "String"),
    ("span_name", "String"),
    ("service_name", "LowCardinality(String)"),
    ("organization_id", "String"),
    ("project_id", "String"),
    ("user_id", "String"),
    ("conversation_id", "String"),
    ("agent_id", "String"),
    ("agent_tags", "Array(LowCardinality(String))"),
    ("run_id", "String"),
    ("step_id", "String"),
    ("call_type", "LowCardinality(String)"),
    ("billing_plan_type", "LowCardinality(String)"),
    ("billing_cost_source", "LowCardinality(String)"),
    ("customer_id", "String"),
    ("is_byok", "Bool"),
    ("provider", "LowCardinality(String)"),
    ("operation", "LowCardinality(String)"),
    ("request_model", "LowCardinality(String)"),
    ("response_model", "LowCardinality(String)"),
    ("response_id", "String"),
    ("is_stream", "Bool"),
    ("finish_reason", "LowCardinality(String)"),
    ("server_address", "LowCardinality(String)"),
    ("prompt_tokens", "Nullable(UInt64)"),
    ("completion_tokens", "Nullable(UInt64)"),
    ("total_tokens", "Nullable(UInt64)"),
    ("cached_input_tokens", "Nullable(UInt64)"),
    ("cache_write_tokens", "Nullable(UInt64)"),
    ("reasoning_tokens", "Nullable(UInt64)"),
    ("usage_details", "Map(LowCardinality(String), UInt64)"),
    ("cost_usd", "Nullable(Decimal(18, 9))"),
    ("cost_details", "Map(LowCardinality(String), Decimal(18, 9))"),
    ("pricing_version", "LowCardinality(String)"),
    ("service_tier", "LowCardinality(String)"),
    ("latency_ms", "Float64"),
    ("ttft_ms", "Nullable(Float64)"),
    ("is_error", "Bool"),
    ("error_type", "LowCardinality(String)"),
    ("error_message", "String"),
    ("http_status_code", "Nullable(UInt16)"),
    ("request_bytes", "UInt64"),
    ("response_bytes", "UInt64"),
    ("payload_truncated", "Bool"),
    ("request_json", "String"),
    ("response_json", "String"),
    ("llm_config_json", "String"),
    ("span_attributes", "Map(LowCardinality(String), String)"),
    ("resource_attributes", "Map(LowCardinality(String), String)"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)
COLUMN_TYPES: tuple[ColumnType, ...] = tuple(parse(spelling) for _, spelling in COLUMNS)

# A row: every column's value, by name. A tuple underneath, so a batch transposes into columns
# with one ``zip(*rows)``, in C. Built by keyword (a row's fields are named where they are set);
# read by attribute, never by position.
Row = namedtuple("Row", COLUMN_NAMES)
