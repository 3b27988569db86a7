"""The slim copy of an LLM span forwarded downstream once its payloads are safe in the row.

OTLP transports reject large messages (a collector's gRPC default is 4 MiB) and tracing backends
are a poor place for megabytes of chat JSON, so every payload attribute over the threshold is
replaced by its first characters, and the span says where the whole text is:
``otel_llm.payload.row_id`` (``llm_traces.id``) and ``<attribute>.offloaded_bytes``.
The original span is never mutated: other processors may still hold it.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from otel_llm import attributes as attr
from otel_llm.exporter.row import span_attributes
from otel_llm.exporter.sources import FOREIGN_PAYLOAD_ATTRIBUTES

THRESHOLD_ENV = "OTEL_LLM_OFFLOAD_THRESHOLD_BYTES"
PREVIEW_ENV = "OTEL_LLM_OFFLOAD_PREVIEW_CHARS"
DEFAULT_THRESHOLD_BYTES = 1024
DEFAULT_PREVIEW_CHARS = 256

OFFLOADED_ATTRIBUTES = (*attr.PAYLOAD_ATTRIBUTES, *FOREIGN_PAYLOAD_ATTRIBUTES)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else default


class Offloader:
    def __init__(self, threshold_bytes: int | None = None, preview_chars: int | None = None) -> None:
        self.threshold_bytes = (
            env_int(THRESHOLD_ENV, DEFAULT_THRESHOLD_BYTES) if threshold_bytes is None else threshold_bytes
        )
        self.preview_chars = env_int(PREVIEW_ENV, DEFAULT_PREVIEW_CHARS) if preview_chars is None else preview_chars

    def slim(self, span: ReadableSpan, row_id: str) -> ReadableSpan:
        """``span`` itself when nothing is over the threshold, else a copy with previews."""
        attributes = span_attributes(span)
        replaced: dict[str, Any] | None = None
        threshold = self.threshold_bytes
        for key in OFFLOADED_ATTRIBUTES:
            value = attributes.get(key)
            if not isinstance(value, str) or len(value) * 4 <= threshold:
                continue  # no string of this many characters can exceed the threshold in UTF-8
            size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
            if size <= threshold:
                continue
            if replaced is None:
                replaced = {}
            replaced[key] = value[: self.preview_chars]
            replaced[key + attr.PAYLOAD_OFFLOADED_BYTES_SUFFIX] = size
        if replaced is None:
            return span
        slim_attributes = {**attributes, **replaced, attr.PAYLOAD_REF_ROW_ID: row_id}
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=slim_attributes,
            events=span.events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
