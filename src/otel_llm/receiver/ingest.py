"""What both transports share: authentication, span conversion, export, back-pressure, counters.

One request is one ``exporter.export()`` call, made only after the whole request decoded and
converted, so a request is written entirely or (on a decode error, which conversion may raise
too: ``decode.BadRequest``) not at all.  Exports are
serialized because a ``SpanExporter`` is written for one caller (the batch processor's thread);
decoding and conversion still run concurrently on the transports' threads.

A request is answered OK only once its rows are where a crash of this process cannot take them:
committed to the store, or in the spool (fsynced).  The exporter hands rows to the storage
writer's queue in memory, so each request then waits for the writer's ``force_flush``.  That is
a group commit: the writer delivers everything queued at once, so requests arriving while one
batch is inserted share the next insert, and the batches grow with the load instead of one
insert per request.
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
        durable_timeout_s: float = 30.0,
    ) -> None:
        self._exporter = exporter
        self._token = token.encode() if token else None
        # Requests allowed to wait for the export lock; beyond it clients get 429 /
        # RESOURCE_EXHAUSTED instead of piling up threads and decoded bodies in memory.
        self._slots = threading.BoundedSemaphore(max_pending_requests)
        self._queue_timeout_s = queue_timeout_s
        self._durable_timeout_s = durable_timeout_s
        self._writer = getattr(exporter, "writer", None)
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
            accepted = len(converted.spans)
            if accepted:
                with self._export_lock:
                    dropped_before = self._dropped()
                    result = self._exporter.export(converted.spans)
                del converted.spans  # the rows hold what is needed now
                if result is not SpanExportResult.SUCCESS:
                    self.count("export_failures")
                    raise ExportFailed("storage is unavailable; retry later")
                # Outside the export lock: the requests waiting here share the writer's next insert.
                if not self._durable(dropped_before):
                    self.count("export_failures")
                    raise ExportFailed("storage has not confirmed the spans as stored; retry later")
        finally:
            self._slots.release()
        self.count("requests_ok")
        self.count("spans_accepted", accepted)
        self.count("spans_rejected", converted.rejected)
        message = ""
        if converted.rejected:
            message = f"{converted.rejected} span(s) rejected; first: {converted.first_error}"
        return Outcome(accepted, converted.rejected, message)

    def _durable(self, dropped_before: int) -> bool:
        """Wait until the rows exported so far are in the store or the spool; False when they
        are not there in time, or when the writer dropped rows meanwhile (they may be ours)."""
        if self._writer is None:
            return self._exporter.force_flush(int(self._durable_timeout_s * 1000))
        return self._writer.force_flush(self._durable_timeout_s) and self._dropped() == dropped_before

    def _dropped(self) -> int:
        stats = getattr(self._writer, "stats", None)
        return stats.get("dropped", 0) if isinstance(stats, dict) else 0

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
