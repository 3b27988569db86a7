"""Stamp the active ``llm_context`` on GenAI spans that other instrumentations start.

Our instrumentors copy ``llm_context`` (billing, agent, run ...) onto their spans themselves.  The
Anthropic SDK's own spans, OpenLLMetry's and OpenInference's know nothing of it, and by export
time the context is gone — so this processor copies it at span start, while the caller's context
is still active.  Attributes the span already has are left alone.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_llm import attributes as attr
from otel_llm.context import current_attributes

# Any of these present when the span starts marks a GenAI call span.
_GENAI_START_KEYS = (
    attr.OPERATION_NAME,
    attr.PROVIDER_NAME,
    "gen_ai.system",  # OpenLLMetry
    "openinference.span.kind",  # OpenInference
)
_OUR_SCOPE_PREFIX = "otel_llm"


class LLMContextSpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        if not any(key in attributes for key in _GENAI_START_KEYS):
            return
        scope = span.instrumentation_scope
        if scope is not None and scope.name.startswith(_OUR_SCOPE_PREFIX):
            return
        # The context the span was started in may be an explicit one, not the current one.
        values = current_attributes(parent_context)
        missing = {key: value for key, value in values.items() if key not in attributes}
        if missing:
            span.set_attributes(missing)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
