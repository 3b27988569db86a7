"""Nothing acknowledged is lost: a store outage under load, a writer killed with SIGKILL, and
memory that stays bounded while the store is away (the queue spills to disk instead of growing)."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import uuid
from pathlib import Path

from otel_llm import payloads
from otel_llm.storage import open_store, open_writer, schema
from tests.children import child_env
from tests.rows import count_rows, make_row

ROWS = 20_000
CHUNK = 500
QUEUE_ROWS = 2_000
PAYLOAD_BYTES = 1024


def rows_of(start: int, n: int, run: str) -> list[dict]:
    """``n`` distinct rows, each with its own payload strings (as spans hold), built cheaply from
    one template so the test's time goes to the writer, not to making rows."""
    template = make_row(0, payload_bytes=PAYLOAD_BYTES, run=run)
    rows = []
    for i in range(start, start + n):
        row = dict(template, id=uuid.uuid5(uuid.NAMESPACE_OID, f"{run}-{i}"), trace_id=f"{i:032x}", span_id=f"{i:016x}")
        row["request_json"] = template["request_json"] + str(i)
        row["response_json"] = template["response_json"] + str(i)
        rows.append(row)
    return rows


def test_store_down_under_load_every_row_arrives_once_memory_bounded(clickhouse_http):
    url = clickhouse_http.url
    writer = open_writer(url, batch_rows=CHUNK, max_queue_rows=QUEUE_ROWS, flush_interval_s=0.2)
    writer.submit([make_row(-1, run="outage")])
    assert writer.force_flush(30) and writer.stats["written"] == 1

    clickhouse_http.stop()
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    for start in range(0, ROWS, CHUNK):
        # Rows are made per chunk and let go, like spans ending in an app: only the writer may hold them.
        writer.submit(rows_of(start, CHUNK, "outage"))
    assert writer.force_flush(60)
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    stats = writer.stats
    assert stats["spooled"] == ROWS and stats["dropped"] == 0 and stats["queued"] == 0
    # 20k rows of ~3 KB are ~60 MB; the writer may hold its queue (2k rows) plus a batch being
    # encoded, never the outage's worth.
    assert peak < 25 * 2**20, f"peak {peak / 2**20:.1f} MiB while the store was down"

    clickhouse_http.start()
    assert writer.shutdown(120)
    assert writer.stats["dropped"] == 0
    assert count_rows(url) == (ROWS + 1, ROWS + 1)


CHILD = textwrap.dedent(
    """
    from tests.rows import make_row
    from otel_llm.storage import open_writer

    writer = open_writer({url!r}, batch_rows=100, flush_interval_s=0.05)
    i = 0
    while True:
        writer.submit([make_row(n, payload_bytes=256, run="killed") for n in range(i, i + 100)])
        i += 100
        if writer.force_flush(30):
            print(writer.stats["spooled"] + writer.stats["written"], flush=True)
    """
)


def test_kill_9_mid_batch_loses_nothing_that_was_spooled(chdb_url, tmp_path):
    """A writer process is SIGKILLed while it spools (the store process ingests meanwhile); every
    row it acknowledged gets in, once, and a half-written spool file is never read as a batch."""
    script = CHILD.format(url=chdb_url)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=child_env())
    acknowledged = 0
    try:
        for line in child.stdout:
            acknowledged = int(line)
            if acknowledged >= 3000:
                break
        os.kill(child.pid, signal.SIGKILL)  # mid-batch: it submits and spools continuously
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()

    stored, distinct = count_rows(chdb_url)  # the store process ingests the spool before answering
    assert stored == distinct >= acknowledged >= 3000
    assert stored % 100 == 0  # whole batches of 100: never part of one
    spool = Path(chdb_url.removeprefix("chdb://") + ".spool")
    assert not [p for p in spool.iterdir() if p.suffix in (".arrow", ".rows") and not p.name.startswith(".")]


def test_kept_payloads_live_only_as_long_as_their_span():
    """No exporter of ours on the span's provider (or none at all): the full payloads an
    instrumentor keeps with a span go when the span goes, however many calls are made."""
    import gc
    import weakref

    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    containers = []
    for n in range(1000):
        span = tracer.start_span("chat gpt-4o")
        payloads.keep(span, {}, {"otel_llm.request.json": {"n": n, "big": "x" * 10_000}})
        span.end()
        containers.append(weakref.ref(span._attributes))
        del span
    gc.collect()
    assert all(ref() is None for ref in containers)


def test_one_row_with_unencodable_text_does_not_cost_its_batch(chdb_url):
    """A lone surrogate (from ``json.loads('"\\\\ud800"')`` or a surrogateescape-decoded name) is a
    valid Python str but not UTF-8: the row is stored with it replaced, and its batch with it."""
    writer = open_writer(chdb_url, batch_rows=100)
    rows = rows_of(0, 100, "surrogate")
    rows[42]["request_json"] = '{"content": "bad \\ud800 text"}'.encode().decode("unicode_escape")
    rows[43]["span_attributes"] = {"key\udcff": "value\ud800"}
    writer.submit(rows)
    assert writer.shutdown(60)
    assert writer.stats["spooled"] == 100 and writer.stats["dropped"] == 0
    assert count_rows(chdb_url) == (100, 100)
    store = open_store(chdb_url)
    try:
        [(text,)] = store.query("SELECT request_json FROM llm_traces WHERE trace_id = {t:String}", {"t": f"{42:032x}"})[1]
    finally:
        store.close()
    assert text == '{"content": "bad \ufffd text"}'
