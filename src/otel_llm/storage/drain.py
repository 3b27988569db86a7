"""Moving spooled batches into a store, oldest first."""

from __future__ import annotations

import logging
import time

from otel_llm.storage import rowfile
from otel_llm.storage.base import Store
from otel_llm.storage.errors import QueryError
from otel_llm.storage.spool import Spool

log = logging.getLogger("otel_llm.storage")

# Rows encoded at a time: one record batch of a whole 20,000-row file took twice as long a row,
# its transposed columns no longer fitting the CPU's caches (benchmarks/bench_export.py).
ENCODE_ROWS = 2000


def drain(spool: Spool, store: Store, deadline: float | None = None) -> tuple[int, int]:
    """Insert every pending batch, deleting each file once its insert is committed.

    Returns ``(rows_written, rows_rejected)``. Raises ``StoreUnavailable`` as soon as the store
    goes away or refuses for now (``errors.refusal``); the remaining files stay for the next
    attempt. A crash between insert and delete re-sends the file later with the same dedup
    token, which the table ignores.
    """
    written = rejected = 0
    for item in spool.pending():
        if deadline is not None and time.monotonic() >= deadline:
            break
        payload = spool.read(item)
        if payload is None:
            continue
        try:
            if item.kind == "json":  # a remote store's batch, as its writer sent it
                store.insert_json(payload, item.token)
                payload = None
            elif item.kind == "rows":  # rows as an app worker spools them: encoded here, not there
                from otel_llm.storage import codec  # pyarrow: the embedded store process only

                rows = rowfile.load_rows(payload)
                payload = codec.write_stream([codec.record_batch(chunk) for chunk in codec.chunks(rows, ENCODE_ROWS)])
                del rows
            if payload is not None:
                store.insert_arrow(payload, item.token)
        except (QueryError, ValueError) as exc:
            target = spool.reject(item)
            rejected += item.rows
            log.error("otel-llm: store rejected spooled batch (%d rows), moved to %s: %s", item.rows, target, exc)
            continue
        spool.remove(item)
        written += item.rows
    return written, rejected
