"""OpenTelemetry instrumentation of the ``anthropic`` SDK: one GenAI span per Messages call.

>>> AnthropicInstrumentor().instrument(tracer_provider=provider)

See :mod:`otel_llm.anthropic.patch` for where the SDK is hooked and why the SDK's own span is
replaced by ours while this instrumentor is on.
"""

from __future__ import annotations

import sys
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from otel_llm.instrumentation.post_import import when_imported
from otel_llm.instrumentation.telemetry import Telemetry

__all__ = ["AnthropicInstrumentor"]

_SCOPE = "otel_llm.anthropic"
_SDK = "anthropic"


class AnthropicInstrumentor(BaseInstrumentor):
    """Instruments ``anthropic`` >= 2: sync and async clients, Anthropic, Bedrock and Vertex.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider`` and ``capture_content``
    (default: ``OTEL_LLM_CAPTURE_CONTENT``, on when unset). It patches the SDK when the app
    imports ``anthropic`` (at once if it already has): an app that never uses it does not load it.
    """

    _telemetry: Telemetry | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 2",)

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = self._telemetry = Telemetry.from_instrument_kwargs(_SCOPE, kwargs)
        when_imported(_SDK, lambda _module: self._install(telemetry))

    def _install(self, telemetry: Telemetry) -> None:
        if self._telemetry is not telemetry:  # uninstrumented before the app imported anthropic
            return
        # Imported here: patch imports anthropic, which must stay optional for `import otel_llm`.
        from otel_llm.anthropic import patch

        patch.install(telemetry)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._telemetry = None
        if _SDK not in sys.modules:
            return
        from otel_llm.anthropic import patch

        patch.uninstall()
