"""otel-llm: OpenTelemetry instrumentation and ClickHouse export for LLM cost and usage."""

import importlib
from typing import Any

from otel_llm.context import llm_context
from otel_llm.redaction import set_redactor

# Loaded on first use: `import otel_llm` stays cheap (no provider SDK, OTel SDK or storage).
_LAZY = {
    "OpenAIInstrumentor": "otel_llm.openai",
    "AnthropicInstrumentor": "otel_llm.anthropic",
    "LLMTraceExporter": "otel_llm.exporter",
    "setup": "otel_llm.setup",
}

__all__ = ["AnthropicInstrumentor", "LLMTraceExporter", "OpenAIInstrumentor", "llm_context", "set_redactor", "setup"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_llm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
