"""otel-llm: OpenTelemetry instrumentation and ClickHouse export for LLM cost and usage."""

from typing import Any

from otel_llm.context import llm_context

__all__ = ["LLMTraceExporter", "llm_context", "setup"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the exporter pulls in the OTel SDK and storage, which an app that
    # only uses llm_context or an instrumentor should not pay for at import time.
    if name == "LLMTraceExporter":
        from otel_llm.exporter import LLMTraceExporter

        return LLMTraceExporter
    if name == "setup":
        from otel_llm.setup import setup

        return setup
    raise AttributeError(f"module 'otel_llm' has no attribute {name!r}")
