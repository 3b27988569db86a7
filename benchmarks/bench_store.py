"""Insert-path throughput for ~2 KB-payload llm_traces rows on the embedded store.

    python -m benchmarks.bench_store [ROWS]

Prints rows/s for: encoding alone (Arrow, and JSONEachRow for comparison), a bare chDB insert of
already-encoded bytes (the engine's ceiling), our store insert (encode + insert), the same insert
while another Python thread keeps running (as an app's do), and the Writer end to end (submit in
span-sized chunks until shutdown returns, data committed).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from otel_llm.storage import codec, open_writer
from otel_llm.storage.base import insert_settings, insert_target
from otel_llm.storage.chdb_store import ChdbStore
from otel_llm.storage.schema import apply
from tests.rows import make_row

BATCH = 5000


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} rows/s"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def json_each_row(rows: list[dict]) -> bytes:
    def default(value):
        return str(value)

    out = []
    for row in rows:
        row = dict(row, timestamp=row["timestamp"] / 1e9, end_timestamp=row["end_timestamp"] / 1e9)
        out.append(json.dumps(row, default=default))
    return "\n".join(out).encode()


@contextlib.contextmanager
def busy_python_thread():
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(100))

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rows = [make_row(i, run="bench") for i in range(n)]
    batches = [rows[i : i + BATCH] for i in range(0, n, BATCH)]
    payload = sum(len(r["request_json"]) + len(r["response_json"]) for r in rows) / n
    print(f"{n:,} rows, {payload:,.0f} B of payload JSON per row, batches of {BATCH:,}")

    arrow = []
    print(f"encode Arrow (ours)          {rate(n, timed(lambda: arrow.extend(codec.encode(b) for b in batches)))}")
    jsons = []
    print(f"encode JSONEachRow           {rate(n, timed(lambda: jsons.extend(json_each_row(b) for b in batches)))}")

    work = Path(tempfile.mkdtemp(prefix="otel-llm-bench-"))
    try:
        store = ChdbStore(work / "db")
        apply(store)
        # The settings the store inserts with, so the two rows compare like with like.
        settings = ", ".join(f"{name} = {value}" for name, value in insert_settings(None).items())
        sql = f"INSERT INTO {insert_target(store.database)} SETTINGS {settings}"
        arrow = [bytes(payload) for payload in arrow]  # chDB's append() takes bytes, not buffers

        def bare(payloads, fmt):
            for data in payloads:
                with store._session.send_insert(sql, fmt) as inserter:
                    inserter.append(data)
                    inserter.finish()

        print(f"bare chDB insert, ArrowStream {rate(n, timed(lambda: bare(arrow, 'ArrowStream')))}  (pre-encoded)")
        print(f"bare chDB insert, JSONEachRow {rate(n, timed(lambda: bare(jsons, 'JSONEachRow')))}  (pre-encoded)")
        print(f"store insert (encode+insert)  {rate(n, timed(lambda: [store.insert_arrow(codec.encode(b), uuid.uuid4().hex) for b in batches]))}")
        # An app's threads keep running Python while the writer inserts; every append into the
        # engine gives up the GIL and has to win it back from them.
        with busy_python_thread():
            print(f"store insert, busy thread     {rate(n, timed(lambda: [store.insert_arrow(p, uuid.uuid4().hex) for p in arrow]))}  (pre-encoded, one Python thread spinning)")
        store.close()

        def end_to_end():
            writer = open_writer(f"chdb://{work / 'e2e'}")
            for i in range(0, n, 512):
                writer.submit(rows[i : i + 512])
            assert writer.shutdown(300), writer.stats
            return writer.stats

        stats = {}
        seconds = timed(lambda: stats.update(end_to_end()))
        print(f"Writer end to end             {rate(n, seconds)}  {stats}  (includes opening chDB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
