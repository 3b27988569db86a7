"""OpenTelemetry instrumentation of the ``anthropic`` SDK: one GenAI span per Messages call.

>>> AnthropicInstrumentor().instrument(tracer_provider=provider)

See :mod:`otel_llm.anthropic.patch` for where the SDK is hooked and why the SDK's own span is
replaced by ours while this instrumentor is on.
"""

from __future__ import annotations

from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from otel_llm.anthropic import patch
from otel_llm.instrumentation.telemetry import Telemetry
from otel_llm.instrumentation.wrapping import unwrap_all, wrap

__all__ = ["AnthropicInstrumentor"]

_SCOPE = "otel_llm.anthropic"


class AnthropicInstrumentor(BaseInstrumentor):
    """Instruments ``anthropic`` >= 2: sync and async clients, Anthropic, Bedrock and Vertex.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider`` and ``capture_content``
    (default: ``OTEL_LLM_CAPTURE_CONTENT``, on when unset).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 2",)

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = Telemetry.from_instrument_kwargs(_SCOPE, kwargs)
        wrap(patch.CLIENT_MODULE, "SyncAPIClient.request", patch.sync_request_wrapper(telemetry))
        wrap(patch.CLIENT_MODULE, "AsyncAPIClient.request", patch.async_request_wrapper(telemetry))
        wrap(patch.CLIENT_MODULE, patch.SDK_SPAN_STARTER, patch.sdk_span_replacer)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap_all(
            [
                (patch.CLIENT_MODULE, "SyncAPIClient.request"),
                (patch.CLIENT_MODULE, "AsyncAPIClient.request"),
                (patch.CLIENT_MODULE, patch.SDK_SPAN_STARTER),
            ]
        )
