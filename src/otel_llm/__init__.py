"""otel-llm: OpenTelemetry instrumentation and ClickHouse export for LLM cost and usage."""

from typing import Any

from otel_llm.context import llm_context

# Instrumentors load on first use: `import otel_llm` stays cheap and works without the SDKs.
_LAZY = {"OpenAIInstrumentor": "otel_llm.openai"}

__all__ = ["llm_context", "OpenAIInstrumentor"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_llm' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
