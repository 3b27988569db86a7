"""LLM spans -> ClickHouse ``llm_traces`` rows, slim spans -> any downstream exporter."""

from otel_llm.exporter.exporter import LLMTraceExporter
from otel_llm.exporter.row import span_to_row

__all__ = ["LLMTraceExporter", "span_to_row"]
