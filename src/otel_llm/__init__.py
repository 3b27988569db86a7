"""otel-llm: OpenTelemetry instrumentation and ClickHouse export for LLM cost and usage."""

from typing import Any

from otel_llm.context import llm_context

__all__ = ["AnthropicInstrumentor", "llm_context"]


def __getattr__(name: str) -> Any:
    # Instrumentors import their SDK: loaded on first use so `import otel_llm` needs neither SDK.
    if name == "AnthropicInstrumentor":
        from otel_llm.anthropic import AnthropicInstrumentor

        return AnthropicInstrumentor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
