"""otel-llm: OpenTelemetry instrumentation and ClickHouse export for LLM cost and usage."""

from typing import Any

from otel_llm.context import llm_context

__all__ = ["AnthropicInstrumentor", "LLMTraceExporter", "llm_context", "setup"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: instrumentors import their SDK, the exporter the OTel SDK and storage;
    # `import otel_llm` needs none of them.
    if name == "AnthropicInstrumentor":
        from otel_llm.anthropic import AnthropicInstrumentor

        return AnthropicInstrumentor
    if name == "LLMTraceExporter":
        from otel_llm.exporter import LLMTraceExporter

        return LLMTraceExporter
    if name == "setup":
        from otel_llm.setup import setup

        return setup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
