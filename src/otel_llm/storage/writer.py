"""``Writer``: what the exporter hands rows to. Never blocks the caller on ClickHouse.

    writer = open_writer()              # OTEL_LLM_CLICKHOUSE_URL, or the embedded default
    writer.submit(rows)                 # Rows (otel_llm.storage.columns), or dicts (see otel_llm.storage.values)
    writer.force_flush(timeout_s)       # True once every row so far is in the store or the spool
    writer.shutdown(timeout_s)          # flush, ingest what it can, stop the thread
    writer.stats                        # {'written': n, 'spooled': n, 'dropped': n, 'queued': n}

``submit`` encodes a batch of rows (a BatchSpanProcessor's export, a receiver request) on the
caller's thread, by the sink's encoding (remote: JSON, or Arrow record batches with
``remote_arrow``; embedded: pickled rows; so that an app's workers never load pyarrow), and appends them to an in-memory queue bounded at
``max_queue_rows``; a small submit (fewer than ``SMALL_SUBMIT_ROWS``) is only staged, and the
background thread encodes it with what follows. That thread gathers batches of up to
``batch_rows`` (or whatever is there every ``flush_interval_s``), and a second one hands each to
the sink (``sinks.py``, ``embedded.py``), which inserts it as one part, or spools it for the
embedded store's store process. If the queue is full, ``submit``
spools the rows to disk: the caller pays for a disk write, never for ClickHouse, and nothing is
dropped unless the disk refuses.

Why encode in ``submit``: rows are encoded while the caller just built them (hot in the CPU's
caches), and what waits in the queue is Arrow memory or bytes, which the garbage collector never walks.
Queued rows made the app's collections walk up to a queue of them (benchmarks/README.md,
bench_export) and the writer thread's encoding competed with the exporter for the GIL.

Counts:

- ``written``: rows this process committed to a remote store, including rows it replayed from
  the spool (so with several processes one may count rows another one submitted);
- ``spooled``: rows this process put in the spool (on the embedded store: every row, the
  normal path; the store process inserts them);
- ``dropped``: rows lost (spool unwritable, or the store rejected the batch as invalid).

They are also exported as the observable counter ``otel_llm.writer.rows`` (attribute ``outcome``)
on the global meter provider, and logged at shutdown (INFO) and when dropping starts (an outage
of a remote store is logged by its sink, once when it starts and once when it ends).
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import queue
import threading
import time
import uuid
import weakref

from opentelemetry import metrics

from otel_llm.settings import env_number
from otel_llm.storage.config import StoreConfig, parse_url
from otel_llm.storage.spool import Outcome

log = logging.getLogger("otel_llm.storage")

BATCH_ROWS_ENV = "OTEL_LLM_WRITER_BATCH_ROWS"
QUEUE_ROWS_ENV = "OTEL_LLM_WRITER_QUEUE_ROWS"
FLUSH_INTERVAL_ENV = "OTEL_LLM_WRITER_FLUSH_INTERVAL_S"
# Rows encoded at a time (a batch is several of these, inserted at once).
ENCODE_ROWS = 2000
# Submits smaller than this are encoded by the writer thread, larger ones by their caller.
SMALL_SUBMIT_ROWS = 64


class Writer:
    def __init__(
        self,
        config: StoreConfig,
        batch_rows: int | None = None,
        max_queue_rows: int | None = None,
        flush_interval_s: float | None = None,
        remote_arrow: bool = False,
    ):
        self.config = config
        # A remote store's rows as Arrow rather than JSON (sinks.RemoteSink): for processes that
        # load pyarrow anyway, such as the receiver.
        self._remote_arrow = remote_arrow
        embedded = config.kind == "chdb"
        # The embedded engine runs on our CPU, and per row it costs half as much in batches of
        # 20,000 as in batches of 5,000 (fewer parts to write and merge; benchmarks/bench_store.py).
        # The queue holds three batches so the app keeps submitting while a batch is gathered
        # and another inserted.
        default_batch, default_queue = (20000, 60000) if embedded else (5000, 20000)
        self._batch_rows = batch_rows or env_number(BATCH_ROWS_ENV, default_batch, minimum=1)
        self._max_queue_rows = max_queue_rows or env_number(QUEUE_ROWS_ENV, default_queue, minimum=1)
        self._interval = flush_interval_s or env_number(FLUSH_INTERVAL_ENV, 1.0, minimum=0.001)
        self._chunk_rows = min(ENCODE_ROWS, self._batch_rows)
        self._stopping = False
        self._start()
        _restart_in_forked_children(self)

    def _start(self) -> None:
        """A new sink, empty queue and counts, and the two threads: at creation, and again in a
        process forked from this one (gunicorn's ``--preload``, multiprocessing's fork), which
        inherits none of the threads."""
        self._sink = _new_sink(self.config, self._remote_arrow)
        self._queue: collections.deque = collections.deque()  # encoded record batches
        self._queued_rows = 0
        self._staged: list[tuple | dict] = []  # rows of small submits, for the writer thread to encode
        self._cond = threading.Condition()
        self._counts = Outcome()
        self._submitted = 0  # rows accepted by submit() into the queue
        self._handled = 0  # of those, rows the thread has written, spooled or dropped
        self._flush_requested = False
        self._warned_dropped = False
        # Batches (record batches, row count) on their way to the inserter thread: one inserted,
        # at most one waiting.
        self._batches: queue.Queue = queue.Queue(maxsize=1)
        self._inserter = threading.Thread(target=self._insert, name="otel-llm-inserter", daemon=True)
        self._inserter.start()
        self._thread = threading.Thread(target=self._run, name="otel-llm-writer", daemon=True)
        self._thread.start()
        _RUNNING.add(self)

    def _restart_after_fork(self) -> None:
        # The rows queued before the fork are the parent's to write; the inherited sink may hold
        # the parent's replay lock and connections: let go of the lock's descriptor (without
        # unlocking it, which would unlock it for the parent) and never touch the rest.
        _INHERITED_SINKS.append(self._sink)
        self._sink.forget_inherited()
        if not self._stopping:
            self._start()

    @property
    def stats(self) -> dict:
        with self._cond:
            return {
                "written": self._counts.written,
                "spooled": self._counts.spooled,
                "dropped": self._counts.dropped,
                "queued": self._queued_rows + len(self._staged),
            }

    def submit(self, rows: list[tuple | dict]) -> None:
        if not rows:
            return
        # A trickle (a SimpleSpanProcessor's one span) is staged for the writer thread, which
        # encodes it with what follows (encoding a row alone costs ~50 Arrow calls); a batch is
        # encoded here.
        staged = len(rows) < SMALL_SUBMIT_ROWS
        batches = [] if staged else self._encode(rows)
        count = len(rows) if staged else sum(batch.num_rows for batch in batches)
        with self._cond:
            if not self._stopping and self._queued_rows + len(self._staged) + count <= self._max_queue_rows:
                self._submitted += count
                if staged:
                    self._staged.extend(rows)
                else:
                    self._queue.extend(batches)
                    self._queued_rows += count
                if self._queued_rows >= self._batch_rows or len(self._staged) >= self._chunk_rows:
                    self._cond.notify()
                return
        if staged:  # the queue is full: the caller spools the rows itself
            batches = self._encode(rows)
            count = sum(batch.num_rows for batch in batches)
        if count:
            self._count(self._sink.spool_batch(batches, count, _token()))

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every row submitted so far is written or durably spooled."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._submitted
            self._flush_requested = True
            self._cond.notify()
            while self._handled < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Flush, then give the sink the rest of ``timeout_s`` to ingest the spool; stop."""
        deadline = time.monotonic() + timeout_s
        flushed = self.force_flush(timeout_s)
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.error("otel-llm: writer thread did not stop within %.1f s", timeout_s)
            return False
        self._count(self._sink.close(max(0.0, deadline - time.monotonic())))
        _RUNNING.discard(self)
        log.info("otel-llm writer stopped: %s", self.stats)
        return flushed

    def _run(self) -> None:
        # A batch's record batches are inserted at once (one part) by the inserter thread,
        # so this thread goes on gathering the next batch while one is inserted.
        pending: list = []  # record batches of the next batch
        pending_rows = 0
        due = 0.0  # when the pending rows have waited an interval
        while True:
            with self._cond:
                woken = self._cond.wait_for(
                    lambda: self._stopping
                    or self._flush_requested
                    or self._queued_rows >= self._batch_rows
                    or len(self._staged) >= self._chunk_rows,
                    timeout=self._interval,
                )
                if (self._queue or self._staged) and not pending:
                    due = time.monotonic() + self._interval
                staged, self._staged = self._staged, []
                while self._queue and pending_rows < self._batch_rows:
                    batch = self._queue.popleft()
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    self._queued_rows -= batch.num_rows
                left = self._queued_rows
                flushing = self._flush_requested or self._stopping
                if not left:
                    self._flush_requested = False
                stop = self._stopping and not left
            if staged:
                encoded = self._encode(staged, handled=True)
                pending.extend(encoded)
                pending_rows += sum(batch.num_rows for batch in encoded)
                del staged, encoded
            # Full batches; else, once the queue is drained, on a flush, the stop or a quiet
            # interval; and, once the writer has caught up, rows that waited an interval (a
            # steady trickle is not held back until a batch fills).
            deliver = (
                pending_rows >= self._batch_rows
                or (not left and (flushing or not woken))
                or (left < self._batch_rows and time.monotonic() >= due)
            )
            if deliver and pending:
                self._batches.put((pending, pending_rows))  # waits while one is already waiting
                pending, pending_rows = [], 0
            if stop and not pending:
                self._batches.put(None)
                self._inserter.join()
                return

    def _encode(self, rows: list[tuple | dict], handled: bool = False) -> list:
        """``rows`` as record batches of at most ENCODE_ROWS rows; rows that cannot be encoded
        are counted as dropped (and logged, and as handled when they were already accepted)."""
        batches = []
        for chunk in self._sink.chunks(rows, self._chunk_rows):
            try:
                batches.append(self._sink.encode(chunk))
            except Exception:
                log.exception("otel-llm: writer failed to encode %d rows", len(chunk))
                self._count(Outcome(dropped=len(chunk)), handled=len(chunk) if handled else 0)
        return batches

    def _insert(self) -> None:
        """The inserter thread: every call into the sink (ClickHouse, spool, store ownership), so
        the writer thread goes on encoding while a batch is inserted (which releases the GIL)."""
        while True:
            try:
                item = self._batches.get(timeout=self._interval)
            except queue.Empty:
                with self._cond:
                    encoding = self._handled < self._submitted
                if encoding:
                    # Not idle: the sink would otherwise give up the store between two batches
                    # (and spool the next one while it stays away).
                    continue
                item = ()
            if item is None:
                return
            rows = 0
            try:
                if item:
                    batches, rows = item
                    item = None
                    self._count(self._sink.deliver(batches, rows, _token()), handled=rows)
                    del batches
                    rows = 0
                with self._cond:
                    busy = self._handled < self._submitted  # more rows on their way to the sink
                self._count(self._sink.maintain(busy=busy))
            except Exception:  # keep the thread alive whatever a batch does; count it as lost
                log.exception("otel-llm: writer failed on a batch of %d rows", rows)
                self._count(Outcome(dropped=rows), handled=rows)

    def _count(self, outcome: Outcome, handled: int = 0) -> None:
        with self._cond:
            self._counts.add(outcome)
            self._handled += handled
        with _TOTALS_LOCK:
            _TOTALS.add(outcome)
        with self._cond:
            if handled:
                self._cond.notify_all()
        if outcome.dropped and not self._warned_dropped:
            self._warned_dropped = True
            log.warning("otel-llm writer: rows are being dropped (%s)", self.stats)


# Sinks inherited from a parent process: kept referenced so their finalizers (a remote sink's
# connection pool) never run in the child.
_INHERITED_SINKS: list = []


def _restart_in_forked_children(writer: Writer) -> None:
    ref = weakref.ref(writer)

    def after_fork() -> None:
        inherited = ref()
        if inherited is not None:
            inherited._restart_after_fork()

    os.register_at_fork(after_in_child=after_fork)


# Writers nobody shut down (no TracerProvider shutdown hook ran, or the writer is used alone)
# are shut down when the interpreter exits: their queued rows are stored or spooled, and the
# embedded engine's session is closed first, which its own teardown at exit needs (finding one
# open, it crashed the process with SIGSEGV). A writer shut down here that is given rows later,
# by a span processor's own exit flush, spools them; its next shutdown ingests them.
_RUNNING: "weakref.WeakSet[Writer]" = weakref.WeakSet()
EXIT_TIMEOUT_S = 5.0


@atexit.register
def _shutdown_at_exit() -> None:
    for writer in list(_RUNNING):
        writer.shutdown(EXIT_TIMEOUT_S)


def _new_sink(config: StoreConfig, remote_arrow: bool):
    # Imported here: the remote sink's pyarrow and clickhouse-connect are tens of MiB a process
    # (benchmarks/README.md, bench_memory) that an app's workers on the embedded store never need.
    if config.kind == "chdb":
        from otel_llm.storage.embedded import EmbeddedSink

        return EmbeddedSink(config)
    from otel_llm.storage.sinks import RemoteSink

    return RemoteSink(config, arrow=remote_arrow)


def open_writer(url: str | None = None, **options) -> Writer:
    """A writer for ``url`` (``OTEL_LLM_CLICKHOUSE_URL`` or the embedded default when None)."""
    return Writer(parse_url(url), **options)


def _token() -> str:
    return uuid.uuid4().hex


# Process-wide totals: the metric is a monotonic counter, so it must not shrink when a writer
# is shut down and forgotten. One instrument per process (a second under the same name would be
# a duplicate registration).
_TOTALS = Outcome()
_TOTALS_LOCK = threading.Lock()


def _new_totals_lock() -> None:
    global _TOTALS_LOCK
    _TOTALS_LOCK = threading.Lock()  # the inherited one may be held by a thread the child lacks


os.register_at_fork(after_in_child=_new_totals_lock)


def _observe(_options):
    with _TOTALS_LOCK:
        counts = Outcome(_TOTALS.written, _TOTALS.spooled, _TOTALS.dropped)
    for outcome in ("written", "spooled", "dropped"):
        yield metrics.Observation(getattr(counts, outcome), {"outcome": outcome})


metrics.get_meter("otel_llm.storage").create_observable_counter(
    "otel_llm.writer.rows",
    callbacks=[_observe],
    unit="{row}",
    description="Rows handled by otel-llm writers, by outcome (written, spooled, dropped)",
)
