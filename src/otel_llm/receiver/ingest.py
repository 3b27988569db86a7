"""What both transports share: authentication, span conversion, export, back-pressure, counters.

One request is one ``exporter.export()`` call, made only after the whole request decoded and
converted, so a request is written entirely or (on a decode error, which conversion may raise
too: ``decode.BadRequest``) not at all.  Exports are
serialized because a ``SpanExporter`` is written for one caller (the batch processor's thread);
decoding and conversion still run concurrently on the transports' threads.
"""

from __future__ import annotations

import hmac
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_llm.receiver.convert import to_readable_spans
from otel_llm.receiver.refusals import RefusalLog


class Overloaded(Exception):
    """Too many requests are waiting to export; the client should retry later."""


class ExportFailed(Exception):
    """The exporter could not take the spans (storage down and spool unavailable); retryable."""


@dataclass(frozen=True)
class Outcome:
    accepted: int
    rejected: int
    error_message: str


class Ingestor:
    def __init__(
        self,
        exporter: SpanExporter,
        *,
        token: str | None = None,
        max_pending_requests: int = 64,
        queue_timeout_s: float = 5.0,
    ) -> None:
        self._exporter = exporter
        self._token = token.encode() if token else None
        # Requests allowed to wait for the export lock; beyond it clients get 429 /
        # RESOURCE_EXHAUSTED instead of piling up threads and decoded bodies in memory.
        self._slots = threading.BoundedSemaphore(max_pending_requests)
        self._queue_timeout_s = queue_timeout_s
        self._export_lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._refusals = RefusalLog()

    def authorized(self, authorization: str | None) -> bool:
        if self._token is None:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        # Constant-time comparison: the token must not leak through response timing.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self._token
        )

    def ingest(self, request: Any) -> Outcome:
        """``request``: a :mod:`otel_llm.receiver.wire` message (an official one is converted)."""
        if not self._slots.acquire(timeout=self._queue_timeout_s):
            self.count("overloaded")
            raise Overloaded("receiver is busy exporting earlier requests")
        try:
            converted = to_readable_spans(request)
            result = SpanExportResult.SUCCESS
            if converted.spans:
                with self._export_lock:
                    result = self._exporter.export(converted.spans)
        finally:
            self._slots.release()
        if result is not SpanExportResult.SUCCESS:
            self.count("export_failures")
            raise ExportFailed("storage is unavailable; retry later")
        accepted = len(converted.spans)
        self.count("requests_ok")
        self.count("spans_accepted", accepted)
        self.count("spans_rejected", converted.rejected)
        message = ""
        if converted.rejected:
            message = f"{converted.rejected} span(s) rejected; first: {converted.first_error}"
        return Outcome(accepted, converted.rejected, message)

    def count(self, name: str, amount: int = 1) -> None:
        with self._counts_lock:
            self._counts[name] += amount

    def refused(self, counter: str, kind: str, reason: str, peer: str) -> None:
        """Count a refused request and log why (rate-limited; never the token, which no reason holds)."""
        self.count(counter)
        self._refusals.refused(kind, reason, peer)

    def counters(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self._counts)

    def shutdown(self) -> None:
        """Flush what the exporter holds and close it; called once both transports stopped."""
        with self._export_lock:
            self._exporter.force_flush()
            self._exporter.shutdown()
