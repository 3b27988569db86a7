"""What one instrumentor emits through: tracer, GenAI metrics, content-capture setting."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.trace import Tracer

from otel_llm.version import __version__

logger = logging.getLogger(__name__)

CAPTURE_CONTENT_ENV = "OTEL_LLM_CAPTURE_CONTENT"
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

# Bucket boundaries advised by the GenAI semantic conventions.
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]


def capture_content_from_env() -> bool:
    raw = os.environ.get(CAPTURE_CONTENT_ENV)
    if raw is None or raw.strip() == "":
        return True
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    logger.warning("%s=%r is not true/false; capturing content (the default)", CAPTURE_CONTENT_ENV, raw)
    return True


@dataclass(slots=True)
class Telemetry:
    tracer: Tracer
    token_usage: Histogram
    operation_duration: Histogram
    time_to_first_chunk: Histogram
    cost: Counter
    capture_content: bool

    @classmethod
    def from_instrument_kwargs(cls, scope: str, kwargs: dict) -> "Telemetry":
        """What ``BaseInstrumentor.instrument(**kwargs)`` configures, for either instrumentor."""
        return cls.create(
            scope,
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            capture_content=kwargs.get("capture_content"),
        )

    @classmethod
    def create(
        cls,
        scope: str,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool | None = None,
    ) -> "Telemetry":
        tracer = trace.get_tracer(scope, __version__, tracer_provider, schema_url=_SCHEMA_URL)
        meter = metrics.get_meter(scope, __version__, meter_provider, schema_url=_SCHEMA_URL)
        return cls(
            tracer=tracer,
            token_usage=meter.create_histogram(
                gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
                unit="{token}",
                description="Number of input and output tokens used",
                explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
            ),
            operation_duration=meter.create_histogram(
                gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
                unit="s",
                description="GenAI operation duration",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            ),
            time_to_first_chunk=meter.create_histogram(
                gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
                unit="s",
                description="Time to receive the first chunk of a streamed response",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            ),
            cost=meter.create_counter(
                "otel_llm.client.cost",
                unit="USD",
                description="Cost of GenAI calls at list prices",
            ),
            capture_content=capture_content_from_env() if capture_content is None else capture_content,
        )
