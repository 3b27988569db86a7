"""``otel_llm.setup()``: one call at app startup for tracing, export and instrumentation.

    import otel_llm
    otel_llm.setup(service_name="support-bot")

What it does:

1. Tracer provider.  If the app (or ``opentelemetry-instrument``) already installed an SDK
   ``TracerProvider`` globally, that one is used: the API refuses to replace a global provider,
   and the app's own exporters keep working next to ours.  Otherwise a new provider with
   ``service.name`` in its resource is created and installed globally.
2. A ``BatchSpanProcessor(LLMTraceExporter(...))`` on it (rows to ClickHouse, slim spans onward).
3. ``LLMContextSpanProcessor``: copies the active ``llm_context`` onto GenAI spans that other
   code starts — the Anthropic SDK's own spans in particular — so they get billing context too.
4. Every otel-llm instrumentor registered under the ``opentelemetry_instrumentor`` entry points
   whose target SDK is installed; missing ones are skipped with a debug log.

Calling it again returns the provider set up the first time and changes nothing. Under
``opentelemetry-instrument`` with ``OTEL_TRACES_EXPORTER=otel_llm`` the exporter is already running:
``setup()`` then adds no second one (it would store every LLM span twice) and leaves instrumentors
that are already on as they are.
"""

from __future__ import annotations

import logging
import sys
import threading
import types
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

logger = logging.getLogger(__name__)

_INSTRUMENTOR_GROUP = "opentelemetry_instrumentor"
_OUR_MODULE_PREFIX = "otel_llm."

_lock = threading.Lock()
_provider: TracerProvider | None = None


def setup(
    *,
    service_name: str | None = None,
    clickhouse_url: str | None = None,
    forward_to: SpanExporter | None | Any = ...,
    exporter: SpanExporter | None = None,
    instrument: bool = True,
) -> TracerProvider:
    """Set up tracing to ClickHouse for this process; returns the tracer provider in use.

    :param service_name: ``service.name`` of a newly created provider (an existing one keeps its own).
    :param clickhouse_url: storage URL, else ``OTEL_LLM_CLICKHOUSE_URL`` / the storage default.
    :param forward_to: exporter for the slim spans; default: OTLP when the standard env asks for it.
    :param exporter: a ready ``LLMTraceExporter`` (wins over ``clickhouse_url`` / ``forward_to``).
    :param instrument: also enable the otel-llm instrumentors found through entry points.
    """
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        from otel_llm.exporter import LLMTraceExporter
        from otel_llm.exporter.context_processor import LLMContextSpanProcessor

        provider = _sdk_provider(service_name)
        provider.add_span_processor(LLMContextSpanProcessor())
        if exporter is None and LLMTraceExporter.running():
            # Typically OTEL_TRACES_EXPORTER=otel_llm under opentelemetry-instrument. A second one
            # would store every LLM span again.
            logger.warning("otel-llm: setup() found an LLMTraceExporter already running and adds no second one")
        else:
            if exporter is None:
                options: dict[str, Any] = {} if forward_to is ... else {"forward_to": forward_to}
                exporter = LLMTraceExporter(clickhouse_url, **options)
            provider.add_span_processor(BatchSpanProcessor(exporter))
        if instrument:
            instrument_all(provider)
        _provider = provider
        return provider


def _sdk_provider(service_name: str | None) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if service_name:
            logger.debug("otel-llm: using the existing TracerProvider; service_name %r not applied", service_name)
        return current
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    provider = TracerProvider(resource=resource)
    trace.set_tracer_provider(provider)
    return provider


def instrument_all(tracer_provider: TracerProvider) -> list[str]:
    """Instrument every installed otel-llm instrumentor's target; returns the entry-point names used."""
    enabled = []
    for entry_point in entry_points(group=_INSTRUMENTOR_GROUP):
        if not entry_point.value.startswith(_OUR_MODULE_PREFIX):
            continue
        try:
            instrumentor = entry_point.load()()
            if instrumentor.is_instrumented_by_opentelemetry:  # by opentelemetry-instrument, say
                enabled.append(entry_point.name)
                continue
            conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
            if conflict is not None:
                logger.debug("otel-llm: skipping instrumentor %s: %s", entry_point.name, conflict)
                continue
            instrumentor.instrument(tracer_provider=tracer_provider)
        except Exception:
            logger.debug("otel-llm: instrumentor %s not available", entry_point.name, exc_info=True)
            continue
        enabled.append(entry_point.name)
    return enabled


class _CallableModule(types.ModuleType):
    # Importing the submodule ``otel_llm.setup`` makes the package attribute ``otel_llm.setup``
    # this module, hiding the function of the same name; calling the module calls the function,
    # so ``otel_llm.setup(...)`` works however the module was first imported.
    def __call__(self, **kwargs: Any) -> TracerProvider:
        return setup(**kwargs)


sys.modules[__name__].__class__ = _CallableModule
