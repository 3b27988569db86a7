"""Several app processes export to the same embedded store while someone runs ``otel-llm query``."""

import multiprocessing
import os
import subprocess
import sys
import time

from otel_llm.storage import open_store, open_writer
from tests.children import child_env
from tests.rows import count_rows, make_row

WORKERS = 4
ROWS_PER_WORKER = 1000


def worker(url: str, index: int) -> dict:
    writer = open_writer(url, batch_rows=200, flush_interval_s=0.2)
    for start in range(0, ROWS_PER_WORKER, 50):
        writer.submit([make_row(i, payload_bytes=512, run=f"w{index}") for i in range(start, start + 50)])
        time.sleep(0.01)  # a trickle, like spans ending in an app, so ownership changes hands
    assert writer.shutdown(60)
    return writer.stats


def test_four_writers_and_a_query_share_one_embedded_store(chdb_url):
    ctx = multiprocessing.get_context("spawn")
    cli = [sys.executable, "-m", "otel_llm.cli", "query", "--url", chdb_url, "--format", "csv"]
    with ctx.Pool(WORKERS) as pool:
        results = [pool.apply_async(worker, (chdb_url, i)) for i in range(WORKERS)]
        queries = 0
        while not all(r.ready() for r in results):
            done = subprocess.run(cli + ["SELECT count() FROM llm_traces"], capture_output=True, text=True, timeout=120)
            # A query racing the very first writer may find no table yet; any other failure is a bug.
            assert done.returncode == 0 or "UNKNOWN_TABLE" in done.stderr, done.stderr
            assert "lock" not in done.stderr.lower()
            queries += done.returncode == 0
        stats = [r.get(timeout=120) for r in results]
    assert queries >= 1
    assert sum(s["dropped"] for s in stats) == 0
    assert sum(s["written"] + s["spooled"] for s in stats) >= WORKERS * ROWS_PER_WORKER

    store = open_store(chdb_url)
    try:
        # No FINAL: every row exactly once, not merely once after deduplication.
        _, rows = store.query("SELECT count(), uniqExact(id) FROM llm_traces")
    finally:
        store.close()
    assert rows == [(WORKERS * ROWS_PER_WORKER, WORKERS * ROWS_PER_WORKER)]
    assert not [n for n in os.listdir(chdb_url.removeprefix("chdb://") + ".spool") if n.endswith(".arrow")]


# A writer made before the process forks, as with gunicorn --preload: each child must get a
# working writer of its own, and the parent's queued rows must be written once, by the parent.
_FORKING_APP = r"""
import os, sys
from otel_llm.storage import open_writer
from tests.children import child_env
from tests.rows import count_rows, make_row

url, parent_writes_first = sys.argv[1], sys.argv[2] == "1"
writer = open_writer(url, batch_rows=200, flush_interval_s=0.2)
if parent_writes_first:  # the parent has written (and started the store process) when it forks
    writer.submit([make_row(i, payload_bytes=256, run="parent") for i in range(300)])
    assert writer.force_flush(60)
children = []
for index in range(3):
    pid = os.fork()
    if pid == 0:
        writer.submit([make_row(i, payload_bytes=256, run=f"child{index}") for i in range(500)])
        ok = writer.shutdown(60) and writer.stats["dropped"] == 0
        os._exit(0 if ok else 1)
    children.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
assert writer.shutdown(60)
print(codes)
"""


def _run_forking_app(chdb_url: str, parent_writes_first: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORKING_APP, chdb_url, "1" if parent_writes_first else "0"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == "[0, 0, 0]", done.stdout + done.stderr


def test_writer_made_before_a_fork_works_in_every_child(chdb_url):
    _run_forking_app(chdb_url, parent_writes_first=False)
    assert count_rows(chdb_url) == (1500, 1500)


def test_children_of_a_process_that_wrote_before_forking_write_their_own_rows(chdb_url):
    # The parent's rows are written once, by the parent; each child's by the child.
    _run_forking_app(chdb_url, parent_writes_first=True)
    assert count_rows(chdb_url) == (1800, 1800)
