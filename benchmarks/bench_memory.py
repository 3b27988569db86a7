"""Private memory of an app's worker processes with and without otel-llm, embedded and remote.

    python -m benchmarks.bench_memory [--workers 4] [--calls 200]

Starts N worker processes (``tests/app_worker.py``) that call the OpenAI SDK against the loopback
stand-in, first uninstrumented (the baseline), then under ``otel_llm.setup()`` on the embedded
store, then on a ClickHouse server (the tests' HTTP fixture, chDB in a child process). Halfway
through each instrumented run, ``otel-llm query`` reads the store. Each worker reports, after
its calls and a flush, its USS (private clean + dirty) and PSS from ``/proc/self/smaps_rollup``.
Prints per run the median worker's figures, what instrumenting added to it, whether any worker
mapped chDB, which heavy modules the workers loaded, and the store process's own memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from otel_llm.standin.openai import openai_standin
from tests.app_worker import memory_kib
from tests.clickhouse_http import ClickHouseHTTP

TESTS = Path(__file__).resolve().parents[1] / "tests"


def run(base_url: str, workers: int, calls: int, env: dict | None, store_url: str | None) -> dict:
    """One run of ``workers`` processes; instrumented when ``env`` is given."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(TESTS / "app_worker.py"), base_url, str(calls), "1" if env else "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env or os.environ,
        )
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "half"
        if store_url:
            done = subprocess.run(
                [sys.executable, "-m", "otel_llm.cli", "query", "--url", store_url, "SELECT count() FROM llm_traces"],
                capture_output=True, text=True, env=env, timeout=120,
            )
            assert done.returncode == 0, done.stderr
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = [json.loads(proc.stdout.readline()) for proc in procs]
        store = _store_process_memory(store_url) if store_url and store_url.startswith("chdb://") else None
    finally:
        for proc in procs:
            proc.stdin.close()  # end-of-file: a worker goes on, and exits
        for proc in procs:
            proc.wait(120)
    return {
        "uss_mib": statistics.median(r["uss"] for r in reports) / 1024,
        "pss_mib": statistics.median(r["pss"] for r in reports) / 1024,
        "max_uss_mib": max(r["uss"] for r in reports) / 1024,
        "chdb_in_workers": sum(r["chdb"] for r in reports),
        "modules": sorted({m for r in reports for m in r["modules"]}),
        "store_process": store,
    }


def _store_process_memory(url: str) -> dict | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if b"otel_llm.storage.service" in cmdline and url.encode() in cmdline:
                return {k: v / 1024 for k, v in memory_kib(entry).items()}
        except OSError:
            continue
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, openai_standin() as server:
        home = Path(tmp) / "home"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        embedded_env = {**base_env, "OTEL_LLM_HOME": str(home), "OTEL_TRACES_EXPORTER": "none"}
        baseline = run(server.base_url, args.workers, args.calls, None, None)
        results = {"baseline (no otel-llm)": baseline}
        results["embedded"] = run(server.base_url, args.workers, args.calls, embedded_env, f"chdb://{home}/chdb")
        clickhouse = ClickHouseHTTP(Path(tmp) / "server")
        clickhouse.start()
        try:
            remote_env = {**embedded_env, "OTEL_LLM_CLICKHOUSE_URL": clickhouse.url}
            results["remote"] = run(server.base_url, args.workers, args.calls, remote_env, clickhouse.url)
        finally:
            clickhouse.stop()
    print(f"{args.workers} workers x {args.calls} OpenAI calls each; per worker, median (max) after a flush")
    print(f"{'run':<24}{'USS MiB':>14}{'PSS MiB':>10}{'added USS':>11}  chDB mapped  heavy modules")
    for name, r in results.items():
        added = r["uss_mib"] - baseline["uss_mib"]
        print(
            f"{name:<24}{r['uss_mib']:>7.1f} ({r['max_uss_mib']:.1f}){r['pss_mib']:>10.1f}{added:>+11.1f}  "
            f"{r['chdb_in_workers']} of {args.workers}       {', '.join(r['modules']) or '-'}"
        )
        if r["store_process"]:
            s = r["store_process"]
            print(f"{'  + its store process':<24}{s['uss']:>7.1f}{'':>7}{s['pss']:>10.1f}  (one per store, exits when idle)")


if __name__ == "__main__":
    main()
