"""OpenTelemetry instrumentation for the OpenAI Python SDK (``openai`` >= 3).

One CLIENT span per chat completion, response or embeddings call, with usage, cost, finish
reasons, TTFT for streams and the ``llm_context`` of the caller::

    from otel_llm import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=..., meter_provider=..., capture_content=True)

``instrument()`` patches the SDK when the app imports ``openai`` (at once if it already has): an
app that never uses it does not pay for loading it (memory in every process: benchmarks/README.md).
"""

from __future__ import annotations

import sys
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from otel_llm.instrumentation.post_import import when_imported
from otel_llm.instrumentation.telemetry import Telemetry

_SCOPE = "otel_llm.openai"
_SDK = "openai"


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc] - BaseInstrumentor is untyped
    _telemetry: Telemetry | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 3",)

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = self._telemetry = Telemetry.from_instrument_kwargs(_SCOPE, kwargs)
        when_imported(_SDK, lambda _module: self._install(telemetry))

    def _install(self, telemetry: Telemetry) -> None:
        if self._telemetry is not telemetry:  # uninstrumented before the app imported openai
            return
        # Imported here: patch imports openai, which must stay optional for `import otel_llm`.
        from otel_llm.openai import patch

        patch.install(telemetry)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._telemetry = None
        if _SDK in sys.modules:
            from otel_llm.openai import patch

            patch.uninstall()


__all__ = ["OpenAIInstrumentor"]
