"""Moving spooled batches into a store, oldest first, several small files of rows per insert."""

from __future__ import annotations

import logging
import time

from otel_llm.storage import rowfile
from otel_llm.storage.base import Store
from otel_llm.storage.errors import QueryError
from otel_llm.storage.spool import Group, Spool, SpoolFile

log = logging.getLogger("otel_llm.storage")

# Rows encoded at a time: one record batch of a whole 20,000-row file took twice as long a row,
# its transposed columns no longer fitting the CPU's caches (benchmarks/bench_export.py).
ENCODE_ROWS = 2000
# Files of rows inserted at once, up to these. The receiver spools a file per group commit
# (500 - 1,000 rows), and chDB costs ~2.5x as much a row in inserts of that size as in inserts
# of 20,000 (benchmarks/README.md, "Acknowledged means stored"); the bytes bound the memory the
# rows take while they are encoded.
GROUP_ROWS = 20000
GROUP_BYTES = 64 << 20


def drain(spool: Spool, store: Store, deadline: float | None = None, whole_groups: bool = False) -> tuple[int, int]:
    """Insert every pending batch, deleting each file once its insert is committed.

    Consecutive files of rows are inserted together, up to ``GROUP_ROWS`` rows and
    ``GROUP_BYTES`` bytes; ``whole_groups``: a last group smaller than that is left for later.
    Returns ``(rows_written, rows_rejected)``. Raises ``StoreUnavailable`` as soon as the store
    goes away or refuses for now (``errors.refusal``); the remaining files stay for the next
    attempt. A crash between insert and delete re-sends the file, or the group, later with the
    same dedup token, which the table ignores (``spool.Spool.begin_group``).
    """
    written = rejected = 0
    for group in spool.unfinished_groups():
        if group.complete:
            w, r = _insert_group(spool, store, group)
            written, rejected = written + w, rejected + r
        else:  # its insert committed: some files were removed after it
            for item in group.items:
                spool.remove(item)
            spool.end_group(group)
    for items in _groups(spool.pending(), whole_groups):
        if deadline is not None and time.monotonic() >= deadline:
            break
        if len(items) == 1:
            w, r = _insert_file(spool, store, items[0])
        else:
            w, r = _insert_files(spool, store, items)
        written, rejected = written + w, rejected + r
    return written, rejected


def _groups(pending: list[SpoolFile], whole_groups: bool) -> list[list[SpoolFile]]:
    """``pending`` cut into inserts: consecutive ``rows`` files up to the bounds, others alone."""
    groups: list[list[SpoolFile]] = []
    current: list[SpoolFile] = []
    rows = size = 0
    for item in pending:
        item_size = _size(item)
        fits = item.kind == "rows" and rows + item.rows <= GROUP_ROWS and size + item_size <= GROUP_BYTES
        if current and not fits:
            groups.append(current)
            current, rows, size = [], 0, 0
        if item.kind != "rows":
            groups.append([item])
            continue
        current.append(item)
        rows, size = rows + item.rows, size + item_size
    if current:
        # A group that could still grow waits when asked to, unless the next file closed it.
        if not (whole_groups and rows < GROUP_ROWS and size < GROUP_BYTES):
            groups.append(current)
    return groups


def _size(item: SpoolFile) -> int:
    try:
        return item.path.stat().st_size
    except FileNotFoundError:
        return 0


def _insert_file(spool: Spool, store: Store, item: SpoolFile) -> tuple[int, int]:
    payload = spool.read(item)
    if payload is None:
        return 0, 0
    try:
        if item.kind == "json":  # a remote store's batch, as its writer sent it
            store.insert_json(payload, item.token)
        elif item.kind == "rows":  # rows as an app worker spools them: encoded here, not there
            store.insert_arrow(_encoded(rowfile.load_rows(payload)), item.token)
        else:
            store.insert_arrow(payload, item.token)
    except (QueryError, ValueError) as exc:
        return 0, _reject(spool, item, exc)
    spool.remove(item)
    return item.rows, 0


def _insert_files(spool: Spool, store: Store, items: list[SpoolFile]) -> tuple[int, int]:
    """Files of rows as one insert. An unreadable file is set aside first, so that the group's
    manifest names exactly the files whose rows the insert holds."""
    readable, rows, rejected = [], [], 0
    for item in items:
        payload = spool.read(item)
        if payload is None:
            continue
        try:
            rows.extend(rowfile.load_rows(payload))
        except ValueError as exc:
            rejected += _reject(spool, item, exc)
            continue
        readable.append(item)
    if not readable:
        return 0, rejected
    written, rejected_here = _insert_group(spool, store, spool.begin_group(readable), rows)
    return written, rejected + rejected_here


def _insert_group(spool: Spool, store: Store, group: Group, rows: list | None = None) -> tuple[int, int]:
    """One insert of the group's files (``rows``: theirs, already read), under the group's token."""
    try:
        if rows is None:  # a group a killed store process began
            rows = []
            for item in group.items:
                rows.extend(rowfile.load_rows(item.path.read_bytes()))
        store.insert_arrow(_encoded(rows), group.token)
    except (QueryError, ValueError) as exc:
        # Not committed: one insert a file then, so that only a bad one is set aside.
        log.warning("otel-llm: %d spooled files failed as one insert (%s); inserting them one by one", len(group.items), exc)
        rows = None
        spool.end_group(group)
        written = rejected = 0
        for item in group.items:
            w, r = _insert_file(spool, store, item)
            written, rejected = written + w, rejected + r
        return written, rejected
    rows = None
    for item in group.items:
        spool.remove(item)
    spool.end_group(group)
    return sum(item.rows for item in group.items), 0


def _encoded(rows: list):
    from otel_llm.storage import codec  # pyarrow: the embedded store process only

    return codec.write_stream([codec.record_batch(chunk) for chunk in codec.chunks(rows, ENCODE_ROWS)])


def _reject(spool: Spool, item: SpoolFile, exc: Exception) -> int:
    target = spool.reject(item)
    log.error("otel-llm: store rejected spooled batch (%d rows), moved to %s: %s", item.rows, target, exc)
    return item.rows
