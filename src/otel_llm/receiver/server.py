"""The running receiver: both transports over one :class:`Ingestor` and one exporter."""

from __future__ import annotations

import gc
import signal
import sys
import threading
from typing import Any, Callable

from opentelemetry.sdk.trace.export import SpanExporter

from otel_llm.receiver.config import ReceiverConfig
from otel_llm.receiver.grpc_transport import start_grpc_server
from otel_llm.receiver.http_transport import OTLPHTTPServer
from otel_llm.receiver.ingest import Ingestor


class Receiver:
    """Start with :meth:`start`, stop with :meth:`stop` (which flushes the exporter)."""

    def __init__(self, config: ReceiverConfig, exporter: SpanExporter, worker: dict | None = None) -> None:
        config.check()
        self.config = config
        self.exporter = exporter
        # Which of `serve --workers N` this is ({"index", "workers", "pid"}); in /health.
        self.worker = worker
        self.ingestor = Ingestor(
            exporter,
            token=config.token,
            max_spans=config.max_spans_per_request,
            max_elements=config.max_attributes_per_request,
            memory_bytes=config.max_memory_bytes,
        )
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        self._http: OTLPHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: Any = None
        self._stopped = threading.Event()

    def start(self) -> "Receiver":
        config = self.config
        try:
            if config.http_port is not None:
                try:
                    self._http = OTLPHTTPServer(
                        (config.host, config.http_port),
                        self.ingestor,
                        health=self.health,
                        max_body_bytes=config.max_body_bytes,
                        max_decompressed_bytes=config.max_decompressed_bytes,
                        reuse_port=config.reuse_port,
                    )
                except OSError as exc:
                    raise OSError(
                        exc.errno, f"cannot listen for OTLP/HTTP on {config.host}:{config.http_port}: {exc.strerror}"
                    ) from exc
                self.http_port = self._http.server_address[1]
                # A short poll interval only makes shutdown() return sooner.
                self._http_thread = threading.Thread(
                    target=self._http.serve_forever, args=(0.1,), name="otel-llm-http", daemon=True
                )
                self._http_thread.start()
            if config.grpc_port is not None:
                host = f"[{config.host}]" if ":" in config.host else config.host
                self._grpc, self.grpc_port = start_grpc_server(
                    f"{host}:{config.grpc_port}",
                    self.ingestor,
                    max_message_bytes=config.max_decompressed_bytes,
                    reuse_port=config.reuse_port,
                )
        except BaseException:
            self.stop()
            raise
        return self

    def health(self) -> dict:
        """Receiver counters, plus the exporter's and its storage writer's when it has them."""
        report: dict[str, Any] = dict(self.ingestor.counters())
        if self.worker is not None:
            # Each worker answers for itself: counters are this process's, not the receiver's.
            report["worker"] = dict(self.worker)
        exporter_stats = getattr(self.exporter, "stats", None)
        if isinstance(exporter_stats, dict):
            report["exporter"] = dict(exporter_stats)
        writer_stats = getattr(getattr(self.exporter, "writer", None), "stats", None)
        if isinstance(writer_stats, dict):
            report["storage"] = dict(writer_stats)
        return report

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish, then flush and shut the exporter."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._grpc is not None:
            self._grpc.stop(grace_s).wait(grace_s)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        self.ingestor.shutdown()

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def build_exporter(config: ReceiverConfig, clickhouse_url: str | None = None) -> SpanExporter:
    """The same ``LLMTraceExporter`` apps use, forwarding slim spans only when asked to.

    The writer is opened here rather than by the exporter so a bad store URL stops ``serve``
    with an error instead of running a receiver that stores nothing.
    """
    from otel_llm.exporter import LLMTraceExporter
    from otel_llm.storage import open_writer

    # Arrow for a remote store: half the CPU a row of the JSON that app workers send, and this
    # process loads pyarrow anyway (the embedded store's writers spool pickled rows either way).
    return LLMTraceExporter(writer=open_writer(clickhouse_url, remote_arrow=True), forward_to=forwarder(config))


def forwarder(config: ReceiverConfig) -> SpanExporter | None:
    if not config.forward_endpoint:
        # Explicitly None: the receiver must not pick up OTEL_EXPORTER_OTLP_* meant for itself.
        return None
    # Headers, timeout and compression come from the exporters' standard OTEL_EXPORTER_OTLP_* env.
    if config.forward_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=config.forward_endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=config.forward_endpoint)


# The receiver allocates dozens of container objects per span, and the storage writer's queue
# holds up to two batches of rows (40,000 by default, several objects each).  At CPython's
# default thresholds (700, 10, 10) the cyclic collector kept walking that queue (its share of the
# receiver's CPU: benchmarks/README.md, bench_receiver).  Spans and rows hold no reference cycles
# (reference counting frees them), so collecting rarely lets little garbage pile up.
GC_THRESHOLDS = (100_000, 20, 20)


def tune_gc() -> None:
    """Settings for a process that is the receiver (``otel-llm serve``), not for a host app."""
    gc.freeze()  # what startup loaded (modules, the engine's bindings) stays; never walk it
    gc.set_threshold(*GC_THRESHOLDS)


def serve(config: ReceiverConfig, exporter: SpanExporter) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully (the exporter is flushed)."""
    tune_gc()
    with StopSignals() as stop:
        receiver = Receiver(config, exporter).start()
        try:
            # On stderr, unconditionally: operators and scripts (and tests using port 0) read it.
            print(
                f"otel-llm serve: listening on {config.host}: OTLP/HTTP port {receiver.http_port or 'off'}, "
                f"OTLP/gRPC port {receiver.grpc_port or 'off'}",
                file=sys.stderr,
                flush=True,
            )
            reason = stop.wait()
            print(f"otel-llm serve: {reason}, flushing and shutting down", file=sys.stderr, flush=True)
        finally:
            receiver.stop()


class StopSignals:
    """SIGTERM and SIGINT set a flag instead of killing, while inside ``with`` (so a second
    signal cannot cut a flush short either)."""

    def __enter__(self) -> "StopSignals":
        self.received: list[int] = []
        self._done = threading.Event()
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        return self

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)
        self._done.set()

    def wait(self, poll: Callable[[], str | None] | None = None, interval_s: float = 0.5) -> str:
        """Until a signal (its name is returned) or until ``poll()`` returns a reason."""
        while not self._done.wait(interval_s if poll is not None else None):
            reason = poll()
            if reason:
                return reason
        return signal.Signals(self.received[0]).name

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
