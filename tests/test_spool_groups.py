"""The store process inserts several spooled files of rows at once, exactly once across a kill."""

from __future__ import annotations

import os
import signal
import time

import pytest

from otel_llm.storage import codec, open_store, rowfile, schema
from otel_llm.storage.config import parse_url
from otel_llm.storage.spool import Spool, group_token
from tests.rows import make_row
from tests.children import store_pids

ROWS_A_FILE = 3


def _rows(file: int, run: str) -> list[dict]:
    return [make_row(file * ROWS_A_FILE + i, payload_bytes=64, run=run) for i in range(ROWS_A_FILE)]


def _query(url: str, sql: str) -> list:
    store = open_store(url)
    try:
        return store.query(sql)[1]
    finally:
        store.close()


def _stop_store_process(url: str) -> None:
    for pid in store_pids(url):
        os.kill(pid, signal.SIGTERM)
    while store_pids(url):
        time.sleep(0.05)


def test_small_files_of_rows_go_in_as_one_insert_and_a_bad_one_is_set_aside(chdb_url):
    spool = Spool(parse_url(chdb_url).spool_dir)
    for file in range(5):
        payload = b"not rows" if file == 2 else rowfile.dumps(_rows(file, "grouped"))
        spool.put(payload, ROWS_A_FILE, os.urandom(16).hex(), kind="rows")

    [[rows, ids, parts]] = _query(chdb_url, "SELECT count(), uniqExact(id), uniqExact(_part) FROM llm_traces")

    assert (rows, ids, parts) == (4 * ROWS_A_FILE, 4 * ROWS_A_FILE, 1)
    assert not spool.pending() and not list(spool.directory.glob("group-*"))
    assert len(list((spool.directory / "rejected").iterdir())) == 1


@pytest.mark.parametrize("removed_before_the_kill", [0, 1])
def test_a_group_inserted_before_a_kill_is_not_inserted_again(chdb_url, removed_before_the_kill):
    # What a store process killed after a group's insert leaves: the rows in the table, the
    # group's manifest, and its files (some already removed, or none).
    tokens = [os.urandom(16).hex() for _ in range(3)]
    rows = [_rows(file, "killed") for file in range(3)]
    store = open_store(chdb_url)
    try:
        schema.apply(store)
        store.insert_arrow(codec.encode([row for file in rows for row in file]), group_token(tokens))
        [[inserted_at]] = store.query("SELECT max(inserted_at) FROM llm_traces")[1]
    finally:
        store.close()
    _stop_store_process(chdb_url)  # none runs while the spool is set up
    spool = Spool(parse_url(chdb_url).spool_dir)
    for file, token in zip(rows, tokens):
        spool.put(rowfile.dumps(file), len(file), token, kind="rows")
    spool.begin_group(spool.pending())
    for item in spool.pending()[:removed_before_the_kill]:
        spool.remove(item)

    # The next store process finishes the group: nothing is inserted again (a repeated insert
    # would have a later inserted_at, as would the remaining files inserted as a new group).
    [[count, ids, last_inserted_at]] = _query(chdb_url, "SELECT count(), uniqExact(id), max(inserted_at) FROM llm_traces")

    assert (count, ids, last_inserted_at) == (3 * ROWS_A_FILE, 3 * ROWS_A_FILE, inserted_at)
    assert not spool.pending() and not list(spool.directory.glob("group-*"))
