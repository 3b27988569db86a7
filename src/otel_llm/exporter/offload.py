"""The slim copy of an LLM span forwarded downstream once its payloads are safe in the row.

OTLP transports reject large messages (a collector's gRPC default is 4 MiB) and tracing backends
are a poor place for megabytes of chat JSON, so every payload attribute over the threshold is
replaced by its first characters, and the span says where the whole text is:
``otel_llm.payload.row_id`` (``llm_traces.id``) and ``<attribute>.offloaded_bytes``.
The copy also leaves out credential headers and, when a redactor is configured, carries the
texts the row got (:mod:`otel_llm.exporter.redacting`): spans of other instrumentations carry
content no redactor saw.  The original span is never mutated: other processors may still hold it.
"""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry.sdk.trace import ReadableSpan

from otel_llm import attributes as attr
from otel_llm.exporter.row import CREDENTIAL_ATTRIBUTES, span_attributes
from otel_llm.exporter.sources import FOREIGN_PAYLOAD_ATTRIBUTES
from otel_llm.settings import env_number

THRESHOLD_ENV = "OTEL_LLM_OFFLOAD_THRESHOLD_BYTES"
PREVIEW_ENV = "OTEL_LLM_OFFLOAD_PREVIEW_CHARS"
DEFAULT_THRESHOLD_BYTES = 1024
DEFAULT_PREVIEW_CHARS = 256

OFFLOADED_ATTRIBUTES = (*attr.PAYLOAD_ATTRIBUTES, *FOREIGN_PAYLOAD_ATTRIBUTES)


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class Offloader:
    def __init__(self, threshold_bytes: int | None = None, preview_chars: int | None = None) -> None:
        self.threshold_bytes = (
            env_number(THRESHOLD_ENV, DEFAULT_THRESHOLD_BYTES) if threshold_bytes is None else threshold_bytes
        )
        self.preview_chars = env_number(PREVIEW_ENV, DEFAULT_PREVIEW_CHARS) if preview_chars is None else preview_chars

    def slim(
        self, span: ReadableSpan, row_id: str, attributes: Mapping[str, Any] | None = None, offload: bool = True
    ) -> ReadableSpan:
        """``span`` itself when there is nothing to change, else a copy with previews.

        ``attributes``: the span's attributes as they may go on (the exporter passes them
        redacted when a redactor is configured); the span's own by default. ``offload=False``:
        payloads go on whole (no row holds them under ``row_id``), credentials still do not.
        """
        given = span_attributes(span)
        if attributes is None:
            attributes = given
        if not CREDENTIAL_ATTRIBUTES.isdisjoint(attributes):
            attributes = {key: value for key, value in attributes.items() if key not in CREDENTIAL_ATTRIBUTES}
        replaced: dict[str, Any] | None = None
        threshold = self.threshold_bytes
        for key in OFFLOADED_ATTRIBUTES if offload else ():
            value = attributes.get(key)
            if not isinstance(value, str):
                continue
            # No string of len * 4 <= threshold characters can exceed the threshold in UTF-8.
            size = 0 if len(value) * 4 <= threshold else _utf8_len(value)
            if size > threshold:
                replaced = replaced or {}
                replaced[key] = value[: self.preview_chars]
                replaced[key + attr.PAYLOAD_OFFLOADED_BYTES_SUFFIX] = size
        if replaced is None:
            if attributes is given:
                return span
            slim_attributes = attributes
        else:
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
