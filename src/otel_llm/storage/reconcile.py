"""One row per provider call in the table, when the spans of a call were inserted apart.

The exporter merges the spans of one call that share a batch (``calls.one_row_per_call``). Spans
of one call exported in different OTLP requests (a ``SimpleSpanProcessor``, a batch cut between
an instrumentation's span and the SDK's own span inside it), or received by different ``serve``
workers, reach the table in different inserts. After each insert, whoever inserted looks at the
rows inserted since (``inserted_at``, which a minmax index makes cheap to find), finds the traces
where two of those rows, or one of them and an older row, describe one call (by the same two
rules: nesting and a shared response id), and applies the same merge in the table:

- the kept row, filled with what it lacked from the others, is written again by the server
  (``INSERT ... SELECT``, each column from the row it comes from: payloads never leave the
  database) when anything was filled;
- the rows it replaces, and the kept row's older copy, are deleted (lightweight ``DELETE``, with
  ``inserted_at`` before this pass, so the new copy and rows inserted meanwhile stay).

Every step can be repeated: a pass interrupted by a crash leaves rows that the next pass over the
same inserts (the store process's first pass covers the last hour) merges the same way, and two
writers reconciling the same call at once write the same row. Analytics still count a call once
by the same rules (``analytics/queries.CALLS``) for tables where a pass could not run (a user
without the ``ALTER DELETE`` grant, rows inserted by older versions).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

from otel_llm.storage.base import Store
from otel_llm.storage.calls import one_row_per_call
from otel_llm.storage.columns import COLUMN_NAMES, Row
from otel_llm.storage.errors import StorageError, StoreUnavailable
from otel_llm.storage.schema import TABLE, quote_identifier

log = logging.getLogger("otel_llm.storage")

# How far apart in time two spans of one call may start: a wrapper that retried a call for a
# while starts well before the call it finally made. A pass reads the rows this close to the new
# ones (the sort key and the parts' time ranges keep the rest unread).
SLACK = timedelta(minutes=15)
# Added to the time since an insert began, for the clock between our measure and the server's.
MARGIN_MS = 5_000
# Traces merged at a time, and rounds of them a pass makes at most (a round's traces no longer
# qualify for the next; one that cannot be merged, say a span its own parent, stays in the list).
MAX_TRACES = 1_000
MAX_ROUNDS = 10
ACCESS_DENIED = 497

_PAYLOADS = ("request_json", "response_json", "llm_config_json")
# Sort key conditions first: the key starts with toStartOfHour(timestamp) (see analytics/queries).
_WINDOW = (
    "toStartOfHour(timestamp) >= toStartOfHour({lo:DateTime64(6, 'UTC')}) "
    "AND toStartOfHour(timestamp) <= toStartOfHour({hi:DateTime64(6, 'UTC')}) "
    "AND timestamp >= {lo:DateTime64(6, 'UTC')} AND timestamp <= {hi:DateTime64(6, 'UTC')}"
)
_FRESH = "inserted_at >= now64(3) - toIntervalMillisecond({fresh_ms:UInt64})"
_SOURCE = f"{{db:Identifier}}.{TABLE}"
_FRESH_SPAN = f"SELECT min(timestamp), max(timestamp), count() FROM {_SOURCE} WHERE {_FRESH}"
# Traces of the fresh rows where some row is another's parent, or two spans carry one response id.
_TWINNED_TRACES = f"""
SELECT trace_id FROM {_SOURCE}
WHERE {_WINDOW} AND trace_id IN (SELECT trace_id FROM {_SOURCE} WHERE {_FRESH} AND {_WINDOW})
GROUP BY trace_id
HAVING hasAny(groupArrayIf(parent_span_id, parent_span_id != ''), groupArray(span_id))
    OR uniqExactIf(span_id, response_id != '') > uniqExactIf(response_id, response_id != '')
LIMIT {MAX_TRACES}
"""
# Those traces' rows with payloads as hashes: enough to merge, without moving payloads.
_SELECTED = ", ".join(
    f"if({name} = '', '', hex(cityHash64({name}))) AS {name}" if name in _PAYLOADS
    else "toString(id) AS id" if name == "id" else name
    for name in COLUMN_NAMES
)
_ROWS = (
    f"SELECT {_SELECTED}, inserted_at FROM {_SOURCE} FINAL WHERE {_WINDOW} AND trace_id IN {{traces:Array(String)}} "
    "ORDER BY inserted_at"
)


def reconcile(store: Store, database: str, fresh_ms: float) -> int:
    """Merge the calls of the rows inserted in the last ``fresh_ms`` milliseconds (plus a margin)
    with their other spans in the table. Returns how many rows fewer the table holds."""
    fresh = {"db": database, "fresh_ms": int(fresh_ms) + MARGIN_MS}
    _, [(first, last, count)] = store.query(_FRESH_SPAN, fresh)
    if not count:
        return 0
    window = {"lo": _text(first - SLACK), "hi": _text(last + SLACK)}
    fewer = 0
    for _ in range(MAX_ROUNDS):
        _, found = store.query(_TWINNED_TRACES, {**fresh, **window})
        if found:
            fewer += _merge(store, database, window, [trace for (trace,) in found])
        if len(found) < MAX_TRACES:
            break
    return fewer


def _merge(store: Store, database: str, window: dict[str, str], traces: list[str]) -> int:
    """Merge the calls of ``traces``; returns how many rows fewer the table holds."""
    _, fetched = store.query(_ROWS, {**window, "db": database, "traces": traces})
    # A row rewritten with a filled provider or model has a new sort key, so FINAL keeps its older
    # copy too until the pass's delete; a pass cut off in between leaves both. The newest copy of
    # an id is the row (oldest first: the last one read wins), the older ones go.
    rows: dict[str, Row] = {}
    newest: dict[str, datetime] = {}
    stale: set[str] = set()
    for *values, inserted_at in fetched:
        if values[0] in rows:
            stale.add(values[0])
        rows[values[0]], newest[values[0]] = Row(*values), inserted_at
    target = _data_table(store, database)
    # First, so that a rewrite below reads each source's newest copy.
    for row_id in stale:
        _delete_older(store, target, window, [row_id], newest[row_id])
    rewritten, removed = _plan(list(rows.values()))
    if not removed:
        return len(fetched) - len(rows)
    if rewritten:
        # A store that refuses deletes (no ALTER DELETE grant) refuses this one too, before a
        # rewrite adds copies that only the delete below would take away again.
        store.command(f"DELETE FROM {target} WHERE 0")
    # Copies inserted before this instant go: the rewritten rows are inserted after it.
    _, [(mark,)] = store.query("SELECT now64(3)")
    if rewritten:
        store.command(_rewrite_sql(quote_identifier(database, "database"), rewritten), window)
    _delete_older(store, target, window, sorted(removed), mark)
    return len(fetched) - len(rows) + len(removed) - len(rewritten)


def _delete_older(store: Store, target: str, window: dict[str, str], ids: list[str], before: datetime) -> None:
    """Delete the copies of ``ids`` inserted before ``before``."""
    store.command(
        f"DELETE FROM {target} WHERE {_WINDOW} "
        "AND id IN {ids:Array(UUID)} AND inserted_at < {before:DateTime64(3, 'UTC')}",
        {**window, "ids": ids, "before": _text(before)},
    )


def _plan(rows: list[Row]) -> tuple[list[dict[str, str]], set[str]]:
    """What to write: for each kept row that takes something from others, each column's source
    row id; and the ids whose current copies go (the replaced rows, the rewritten rows' own)."""
    by_trace: dict[str, list[Row]] = {}
    for row in rows:
        by_trace.setdefault(row.trace_id, []).append(row)
    rewritten, removed = [], set()
    for spans in by_trace.values():
        merged = one_row_per_call(spans)
        kept_ids = {row.id for row in merged}
        removed.update(row.id for row in spans if row.id not in kept_ids)
        for row in merged:
            own = next(span for span in spans if span.id == row.id)
            if row == own:
                continue
            # Each column from a row holding its merged value (equal values are interchangeable),
            # the kept row's own first.
            donors = [own] + [span for span in spans if span.id != row.id]
            rewritten.append({
                name: next((span.id for span in donors if getattr(span, name) == value), own.id)
                for name, value in zip(COLUMN_NAMES, row)
            })
            removed.add(row.id)
    return rewritten, removed


def _rewrite_sql(db: str, rewritten: list[dict[str, str]]) -> str:
    """One ``INSERT ... SELECT`` of every merged row, each column from its source row (ids
    spelled out: they are UUIDs the table gave, checked again here)."""
    selects = []
    for sources in rewritten:
        columns = ", ".join(f"anyIf({name}, id = {_uuid(source)})" for name, source in sources.items())
        ids = sorted(set(sources.values()))
        selects.append(
            f"SELECT {columns} FROM {db}.{TABLE} FINAL WHERE {_WINDOW} AND id IN ({', '.join(map(_uuid, ids))}) "
            # Not when a source is gone (another writer's pass merged this call meanwhile): an
            # aggregate over no rows would be a row of defaults.
            f"HAVING uniqExact(id) = {len(ids)}"
        )
    return f"INSERT INTO {db}.{TABLE} ({', '.join(COLUMN_NAMES)}) " + " UNION ALL ".join(selects)


def _text(moment: datetime) -> str:
    """A time as a parameter's text, which both stores read (chDB takes no zone suffix)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _uuid(text: str) -> str:
    return f"toUUID('{uuid.UUID(text)}')"


_DISTRIBUTED = re.compile(r"^Distributed\('?(\w+)'?,\s*'?(\w+)'?,\s*'?(\w+)'?")


def _data_table(store: Store, database: str) -> str:
    _, found = store.query(
        "SELECT engine_full FROM system.tables WHERE database = {database:String} AND name = {table:String}",
        {"database": database, "table": TABLE},
    )
    return delete_target(database, found[0][0] if found else "")


def delete_target(database: str, engine_full: str) -> str:
    """Where rows are deleted: ``llm_traces``, or, when it is a ``Distributed`` table (a cluster),
    the local tables under it, on every node."""
    db = quote_identifier(database, "database")
    match = _DISTRIBUTED.match(engine_full)
    if match is None:
        return f"{db}.{TABLE}"
    cluster, _, local = match.groups()
    return f"{db}.{quote_identifier(local, 'table')} ON CLUSTER {quote_identifier(cluster, 'cluster')}"


class Reconciler:
    """A writer's passes over what it inserted: at most one a second (a burst of inserts shares
    one), and never more than a tenth of the time, so that a pass over a large table cannot slow
    the inserts; the first over the last hour's inserts (what a crash may have left). A store that
    refuses them (a user without the ``ALTER DELETE`` grant) is told about once; inserts go on
    regardless."""

    CATCH_UP_MS = 3_600_000
    INTERVAL_S = 1.0
    SHARE = 0.1
    WAIT_S = 10.0

    def __init__(self, database: str):
        self._database = database
        self._caught_up = False
        self._failing = False
        self._pending_since: float | None = None  # when the first insert not reconciled yet began
        self._next_pass = 0.0

    def inserted(self, began: float) -> None:
        """Note an insert that began at ``began`` (``time.monotonic()``)."""
        if self._pending_since is None:
            self._pending_since = began

    def due(self, busy: bool = False) -> bool:
        """Whether to run a pass now; ``busy``: the writer has inserts waiting, which come first
        (a pass then waits WAIT_S at most: a busy writer's stream is merged in larger passes)."""
        if self._pending_since is None:
            return False
        now = time.monotonic()
        return now >= self._next_pass and (not busy or now - self._pending_since >= self.WAIT_S)

    def run(self, store: Store) -> None:
        """Reconcile what was inserted since the first insert not reconciled yet, if any."""
        if self._pending_since is None:
            return
        now = time.monotonic()
        fresh_ms = self.CATCH_UP_MS if not self._caught_up else (now - self._pending_since) * 1000
        try:
            removed = reconcile(store, self._database, fresh_ms)
        except StoreUnavailable:
            self._next_pass = now + self.INTERVAL_S
            return  # down: the rows are in, and the next pass covers them
        except Exception as exc:  # never the inserts': they are in, whatever this pass does
            if not self._failing:
                grant = " Grant the writer ALTER DELETE on llm_traces." if getattr(exc, "code", None) == ACCESS_DENIED else ""
                log.warning(
                    "otel-llm: cannot merge the rows of calls that several spans described (%s); totals "
                    "still count each call once, but the table keeps a row for each span.%s", exc, grant,
                )
            self._failing = True
            self._pending_since = None
            return
        self._caught_up, self._failing, self._pending_since = True, False, None
        took = time.monotonic() - now
        self._next_pass = now + max(self.INTERVAL_S, took / self.SHARE)
        if removed:
            log.debug("merged the spans of calls inserted apart: %d rows fewer", removed)
