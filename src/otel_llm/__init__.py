"""otel-llm: OpenTelemetry instrumentation and ClickHouse export for LLM cost and usage."""

import importlib
from typing import Any

from otel_llm.context import llm_context

# Loaded on first use: `import otel_llm` stays cheap and works without either provider SDK.
_LAZY = {
    "OpenAIInstrumentor": "otel_llm.openai",
    "AnthropicInstrumentor": "otel_llm.anthropic",
}

__all__ = ["AnthropicInstrumentor", "OpenAIInstrumentor", "llm_context"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_llm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
