"""OpenTelemetry instrumentation for the OpenAI Python SDK (``openai`` >= 3).

One CLIENT span per chat completion, response or embeddings call, with usage, cost, finish
reasons, TTFT for streams and the ``llm_context`` of the caller::

    from otel_llm import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=..., meter_provider=..., capture_content=True)
"""

from __future__ import annotations

from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from otel_llm.instrumentation.telemetry import Telemetry

_SCOPE = "otel_llm.openai"


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc] - BaseInstrumentor is untyped
    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 3",)

    def _instrument(self, **kwargs: Any) -> None:
        # Imported here: patch imports openai, which must stay optional for `import otel_llm`.
        from otel_llm.openai import patch

        telemetry = Telemetry.from_instrument_kwargs(_SCOPE, kwargs)
        patch.install(telemetry)

    def _uninstrument(self, **kwargs: Any) -> None:
        from otel_llm.openai import patch

        patch.uninstall()


__all__ = ["OpenAIInstrumentor"]
