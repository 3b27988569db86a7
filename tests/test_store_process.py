"""The embedded store's single store process: app workers only spool, readers ask, chDB loads once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app_worker import maps_chdb
from tests.children import store_pids
from otel_llm.standin.openai import openai_standin
from otel_llm.storage import open_store, open_writer
from otel_llm.storage.config import parse_url
from otel_llm.storage.embedded import store_process_running
from tests.rows import count_rows, make_row

WORKER = str(Path(__file__).with_name("app_worker.py"))
WORKERS = 4
CALLS = 40


def _cli(url: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "otel_llm.cli", "query", "--url", url, "--format", "csv", sql],
        capture_output=True, text=True, timeout=120,
    )


def test_four_instrumented_workers_and_a_cli_query_load_chdb_in_one_process(tmp_path):
    home = tmp_path / "home"
    url = f"chdb://{home}/chdb"  # the default store of OTEL_LLM_HOME
    # The store process must outlive the checks below (tests otherwise let it go after 2 s idle).
    env = {**os.environ, "OTEL_LLM_HOME": str(home), "OTEL_TRACES_EXPORTER": "none", "OTEL_LLM_STORE_IDLE_S": "10"}
    env.pop("OTEL_LLM_CLICKHOUSE_URL", None)
    with openai_standin() as server:
        workers = [
            subprocess.Popen(
                [sys.executable, WORKER, server.base_url, str(CALLS), "1"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
            )
            for _ in range(WORKERS)
        ]
        try:
            for worker in workers:
                assert worker.stdout.readline().strip() == "half"
            # A reader while the workers are mid-run: answers, no lock error.
            done = _cli(url, "SELECT count() FROM llm_traces")
            assert done.returncode == 0, done.stderr
            assert "lock" not in done.stderr.lower()
            assert 0 <= int(done.stdout.splitlines()[1]) <= WORKERS * CALLS
            for worker in workers:
                worker.stdin.write("go\n")
                worker.stdin.flush()
            reports = [json.loads(worker.stdout.readline()) for worker in workers]
            # Every process alive: only the store process maps the engine.
            assert [r["chdb"] for r in reports] == [False] * WORKERS
            assert [r["modules"] for r in reports] == [[]] * WORKERS  # no anthropic, pyarrow, numpy
            pids = store_pids(url)
            assert len(pids) == 1 and maps_chdb(pids[0])
        finally:
            for worker in workers:
                worker.stdin.close()  # a worker reads end-of-file as its cue to go on, and to exit
            for worker in workers:
                assert worker.wait(60) == 0
    # Rows equal calls, each once (no FINAL).
    done = _cli(url, "SELECT count(), uniqExact(id) FROM llm_traces")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == f"{WORKERS * CALLS},{WORKERS * CALLS}"


def test_a_killed_store_process_is_replaced_and_nothing_is_lost(chdb_url, monkeypatch):
    monkeypatch.setenv("OTEL_LLM_STORE_IDLE_S", "10")
    writer = open_writer(chdb_url, flush_interval_s=0.1)
    try:
        writer.submit([make_row(i, run="kill") for i in range(100)])
        assert writer.force_flush(30)
        assert count_rows(chdb_url) == (100, 100)
        [pid] = store_pids(chdb_url)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while store_process_running(parse_url(chdb_url)) and time.monotonic() < deadline:
            time.sleep(0.05)
        writer.submit([make_row(i, run="kill") for i in range(100, 200)])
        assert writer.force_flush(30)
    finally:
        assert writer.shutdown(30)
    assert count_rows(chdb_url) == (200, 200)
    assert len(store_pids(chdb_url)) == 1


def test_the_store_process_exits_when_idle(chdb_url, monkeypatch):
    monkeypatch.setenv("OTEL_LLM_STORE_IDLE_S", "0.5")
    store = open_store(chdb_url)
    try:
        store.command("SELECT 1")
        assert len(store_pids(chdb_url)) == 1
    finally:
        store.close()
    deadline = time.monotonic() + 30
    while store_pids(chdb_url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not store_pids(chdb_url)
    assert not store_process_running(parse_url(chdb_url))


@pytest.mark.parametrize("request_kind", ["query", "command"])
def test_a_bad_statement_is_a_query_error_and_the_store_process_goes_on(chdb_url, request_kind):
    from otel_llm.storage.errors import QueryError

    store = open_store(chdb_url)
    try:
        with pytest.raises(QueryError, match="UNKNOWN_TABLE"):
            getattr(store, request_kind)("SELECT * FROM no_such_table")
        assert store.query("SELECT 1 + 1")[1] == [(2,)]
    finally:
        store.close()
