"""The same analytics against a ClickHouse server (HTTP interface, clickhouse-connect), and the
demo from a fresh directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

from tests.analytics import dataset
from otel_llm.analytics import report, stats, trace
from otel_llm.analytics.window import Window
from otel_llm.storage import open_store


def test_stats_report_and_trace_over_http(clickhouse_http):
    dataset.load(clickhouse_http.url)
    store = open_store(clickhouse_http.url)
    window = Window(dataset.T0, dataset.T0 + timedelta(hours=1))
    try:
        result = stats.compute(store, window, by="model")
        rows = trace.find(store, dataset.TRACE_ID)
        page = report.build(store, window)
    finally:
        store.close()
    assert result.total["calls"] == 7  # the duplicate collapsed by FINAL here too
    assert result.total["cost_usd"] == Decimal("2.06")
    claude = next(g for g in result.groups if g["key"].startswith("claude"))
    assert claude["latency_p95_ms"] == 2900
    assert json.dumps(dataset.REQUEST, indent=2) in trace.as_text(rows)
    assert page.count("<svg") == len(report.CHART_IDS)


def test_demo_from_a_fresh_directory(tmp_path):
    workdir = tmp_path / "fresh"
    workdir.mkdir()
    # As on a fresh machine: no keys, no otel-llm settings, so the default store in ./.otel-llm.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("OTEL_LLM_")}
    result = subprocess.run(
        [sys.executable, "-m", "otel_llm.cli", "demo"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert out.count("local stand-in, not the real provider") == 2
    assert "[11/11]" in out and "(intended)" in out and "failed unexpectedly" not in out
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert total.split()[1] == "11"  # every call of the workload became a row
    # The stand-ins answer as OpenAI and Anthropic: every call is priced but the two intended errors.
    assert "2 call(s) have no cost" in out
    # ... of the embedded default store in the working directory, and the demo says where.
    assert f"11 rows in llm_traces, chdb://{workdir / '.otel-llm' / 'chdb'}" in out
    for customer in ("acme", "globex", "initech"):
        assert any(line.startswith(customer) for line in out.splitlines())
    report = workdir / "otel-llm-report.html"
    assert f"HTML report: {report}" in out
    assert report.read_text().count("<svg") == 7


def test_demo_without_an_sdk_says_what_to_install(tmp_path):
    # sys.modules[name] = None is how Python marks a module as not importable.
    code = "import sys; sys.modules['anthropic'] = None; from otel_llm.cli import main; sys.exit(main(['demo']))"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "otel-llm: the demo calls both SDKs, and anthropic is not installed: pip install 'otel-llm[openai,anthropic]'"
    )
