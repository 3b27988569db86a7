"""``LLMTraceExporter``: LLM spans become ``llm_traces`` rows; every span goes on downstream.

Placed behind a BatchSpanProcessor, ``export`` runs on the processor's worker thread.  It turns
each LLM span into a row (with the full payloads our instrumentors keep with the span, see
:mod:`otel_llm.payloads`; free text redacted once, see :mod:`otel_llm.exporter.redacting`), hands the batch to the storage writer — which queues and spools and
never blocks on ClickHouse — and forwards the batch: non-LLM spans untouched, LLM spans slimmed
(:mod:`otel_llm.exporter.offload`).  ``export`` never raises: telemetry must not break the app.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from typing import Any, Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_llm import attributes as attr
from otel_llm import payloads, redaction
from otel_llm.exporter import sources
from otel_llm.storage import calls
from otel_llm.exporter.offload import Offloader
from otel_llm.exporter.redacting import RESOURCES, SpanRedaction
from otel_llm.exporter.row import build_row, span_attributes
from otel_llm.storage.columns import Row

logger = logging.getLogger(__name__)

_FROM_ENV: Any = object()
_running: weakref.WeakSet = weakref.WeakSet()  # exporters not yet shut down


class LLMTraceExporter(SpanExporter):
    """Span exporter writing LLM calls to ClickHouse and forwarding slim spans.

    With no arguments everything comes from the environment: ``OTEL_LLM_CLICKHOUSE_URL`` (the
    storage writer's default when unset), ``OTEL_LLM_OFFLOAD_THRESHOLD_BYTES`` /
    ``OTEL_LLM_OFFLOAD_PREVIEW_CHARS``, and forwarding over OTLP when
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (protocol from
    ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``: ``grpc`` or
    ``http/protobuf``, the spec's default).

    :param clickhouse_url: storage URL (``chdb://PATH`` or ``http(s)://...``).
    :param writer: an already opened storage writer (``submit``/``force_flush``/``shutdown``);
        wins over ``clickhouse_url``.
    :param forward_to: any SpanExporter, or ``None`` to forward nowhere; by default an OTLP
        exporter when the environment names an endpoint, else nowhere.
    :param offload_threshold_bytes: payload attributes larger than this are slimmed on forwarded spans.
    :param preview_chars: how much of a slimmed payload stays on the forwarded span.
    """

    def __init__(
        self,
        clickhouse_url: str | None = None,
        *,
        writer: Any = None,
        forward_to: SpanExporter | None = _FROM_ENV,
        offload_threshold_bytes: int | None = None,
        preview_chars: int | None = None,
    ) -> None:
        _running.add(self)
        self._writer = writer if writer is not None else _open_writer(clickhouse_url)
        self._forward = _otlp_from_env() if forward_to is _FROM_ENV else forward_to
        self._offloader = Offloader(offload_threshold_bytes, preview_chars)
        self._shutdown_lock = threading.Lock()
        self._is_shutdown = False
        self.stats = {"rows": 0, "row_errors": 0, "submit_errors": 0, "forward_errors": 0}

    @property
    def writer(self) -> Any:
        return self._writer

    @staticmethod
    def running() -> bool:
        """Whether an exporter not yet shut down exists in this process."""
        return bool(_running)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._is_shutdown:
            return SpanExportResult.FAILURE
        ok = True
        try:
            rows, forward = self._rows_and_forward(spans)
            if rows:
                ok = self._submit(rows)
            if self._forward is not None and forward:
                ok = self._forward_export(forward) and ok
        except Exception:  # never let telemetry raise into the span processor
            logger.exception("otel-llm export failed")
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def _rows_and_forward(self, spans: Sequence[ReadableSpan]) -> tuple[list[Row], list[ReadableSpan]]:
        built: list[tuple[ReadableSpan, Row, Mapping[str, Any], SpanRedaction | None]] = []
        forward: list[ReadableSpan] = []
        forwarding = self._forward is not None
        normalize, full_payloads_of = sources.normalize, payloads.full_payloads
        redacting = redaction.active() is not None
        for span in spans:
            try:
                original = span_attributes(span)
                attributes = normalize(original, span.instrumentation_scope)
                if attributes is None:
                    if forwarding:
                        forward.append(span)
                    continue
                full_payloads = full_payloads_of(span)
                redactor = None
                if redacting:
                    # Kept payloads mean our instrumentor made the span here and redacted its texts.
                    redactor = SpanRedaction(redacted_at_source=full_payloads is not None)
                    attributes = redactor.attributes(attributes)
                row = build_row(span, attributes, full_payloads)
                if redactor is not None:
                    row = self._redact_rest(row, attributes, redactor)
            except Exception:
                # One malformed span must not cost the batch its other rows.
                self.stats["row_errors"] += 1
                logger.warning("otel-llm could not build a row for span %r", span.name, exc_info=True)
                if forwarding:
                    forward.append(span)
                continue
            built.append((span, row, original, redactor))
        rows = calls.one_row_per_call([row for _, row, _, _ in built])
        if forwarding:
            slim = self._offloader.slim
            kept = {row.id for row in rows} if len(rows) < len(built) else None
            for span, row, original, redactor in built:
                try:
                    sent = original if redactor is None else redactor.attributes(original)
                    # A span merged into another's row keeps its payloads: it has no row to refer to.
                    merged = kept is not None and row.id not in kept
                    forward.append(slim(span, str(uuid.UUID(bytes=row.id)), sent, offload=not merged))
                except Exception:
                    logger.warning("otel-llm could not slim span %r; forwarding it whole", span.name, exc_info=True)
                    forward.append(span)
        self.stats["rows"] += len(rows)
        return rows, forward

    def _redact_rest(self, row: Row, attributes: Mapping[str, Any], redactor: SpanRedaction) -> Row:
        """The row's free text that did not come from ``attributes`` (already redacted): an error
        message from an exception event or the status, and the resource's leftover attributes."""
        message = row.error_message
        if message and message != attributes.get(attr.ERROR_MESSAGE):
            message = redactor.text(message)
        return row._replace(error_message=message, resource_attributes=RESOURCES.leftover(row.resource_attributes))

    def _submit(self, rows: list[Row]) -> bool:
        if self._writer is None:
            return False
        try:
            self._writer.submit(rows)
            return True
        except Exception:
            self.stats["submit_errors"] += 1
            logger.warning("otel-llm storage writer rejected %d rows", len(rows), exc_info=True)
            return False

    def _forward_export(self, spans: list[ReadableSpan]) -> bool:
        try:
            return self._forward.export(spans) is SpanExportResult.SUCCESS
        except Exception:
            self.stats["forward_errors"] += 1
            logger.warning("otel-llm forward exporter failed", exc_info=True)
            return False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        ok = True
        if self._writer is not None:
            ok = _call(self._writer.force_flush, max(deadline - time.monotonic(), 0.0))
        if self._forward is not None:
            remaining_ms = int(max(deadline - time.monotonic(), 0.0) * 1000)
            ok = _call(self._forward.force_flush, remaining_ms) and ok
        return ok

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        with self._shutdown_lock:
            if self._is_shutdown:
                return
            self._is_shutdown = True
        _running.discard(self)
        deadline = time.monotonic() + timeout_millis / 1000
        if self._writer is not None:
            _call(self._writer.shutdown, max(deadline - time.monotonic(), 0.0))
        if self._forward is not None:
            # SpanExporter.shutdown() takes no timeout; OTLP exporters bound it themselves.
            _call(self._forward.shutdown)


def _call(method: Any, *args: Any) -> bool:
    try:
        result = method(*args)
    except Exception:
        logger.warning("otel-llm: %s failed", getattr(method, "__qualname__", method), exc_info=True)
        return False
    return result is not False


def _open_writer(url: str | None) -> Any:
    try:
        from otel_llm.storage import open_writer

        return open_writer(url)
    except Exception:
        # The app keeps running and spans keep flowing downstream; rows are lost and said so.
        logger.exception("otel-llm could not open the storage writer; LLM rows will not be stored")
        return None


def _otlp_from_env() -> SpanExporter | None:
    env = os.environ
    if not (env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    ).strip()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            if protocol != "http/protobuf":
                logger.warning("otel-llm: OTLP protocol %r not supported, using http/protobuf", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        logger.warning(
            "otel-llm: OTLP forwarding asked for (%s) but its exporter package is not installed; spans are "
            "not forwarded. Install it with: pip install 'otel-llm[otlp]'",
            protocol,
        )
        return None
    # The OTLP exporters read endpoint, headers, timeout and compression from the same env.
    return OTLPSpanExporter()
