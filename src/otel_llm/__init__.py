"""otel-llm: OpenTelemetry instrumentation and ClickHouse export for LLM cost and usage."""

from otel_llm.context import llm_context

__all__ = ["llm_context"]
