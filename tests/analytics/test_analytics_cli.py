"""``otel-llm stats`` / ``trace`` / ``report`` end to end through the real CLI entry point."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.analytics.dataset import REQUEST, RESPONSE, ROWS, TRACE_ID
from otel_llm.cli import main

WINDOW = ["--since", "2026-11-20T10:00", "--until", "2026-11-20T11:00"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_stats_table_is_aligned_and_totals(capsys, seeded_url):
    code, out, _ = run(capsys, "stats", "--url", seeded_url, *WINDOW, "--by", "customer")
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("CUSTOMER"))
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert "$2.0600" in total and "14.3%" in total  # 1 error in 7 calls
    # Right-aligned columns: every body line ends where the header ends.
    body = [line for line in lines if line.startswith(("acme", "globex", "TOTAL"))]
    assert {len(line) for line in body} == {len(header)}
    assert "2 call(s) have no cost" in out


def test_stats_json(capsys, seeded_url):
    code, out, _ = run(capsys, "stats", "--url", seeded_url, *WINDOW, "--by", "agent", "--format", "json")
    assert code == 0
    document = json.loads(out)
    agents = {group["agent"]: group for group in document["groups"]}
    assert agents["research"]["cost_usd"] == pytest.approx(2.0)
    assert agents["support-bot"]["errors"] == 1
    assert document["total"]["calls"] == 7
    assert document["since"].startswith("2026-11-20T10:00")


def test_stats_csv(capsys, seeded_url):
    code, out, _ = run(capsys, "stats", "--url", seeded_url, *WINDOW, "--by", "plan", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    plans = {row["plan"]: row for row in rows}
    assert set(plans) == {"free", "pro", "(none)", "TOTAL"}
    assert float(plans["free"]["cache_hit_ratio"]) == pytest.approx(0.25)
    assert plans["free"]["ttft_p50_ms"] == ""  # unknown stays empty, not 0


def test_stats_empty_window_and_bad_since(capsys, seeded_url):
    code, _, err = run(capsys, "stats", "--url", seeded_url, "--since", "2030-01-01")
    assert code == 2 and "not before --until" in err
    code, _, err = run(capsys, "stats", "--url", seeded_url, "--since", "1h")
    assert code == 1 and "widen --since" in err and "otel-llm demo" in err
    code, _, err = run(capsys, "stats", "--url", seeded_url, "--since", "yesterday")
    assert code == 2 and "units s/m/h/d/w" in err


def test_trace_by_trace_id_pretty_prints_payloads(capsys, seeded_url):
    code, out, _ = run(capsys, "trace", TRACE_ID, "--url", seeded_url)
    assert code == 0
    assert json.dumps(REQUEST, indent=2) in out
    assert json.dumps(RESPONSE, indent=2) in out
    for column in ("customer_id", "cached_input_tokens", "ttft_ms", "usage_details", "inserted_at"):
        assert column in out


def test_trace_by_row_id_as_json(capsys, seeded_url):
    row_id = str(ROWS[3]["id"])
    code, out, _ = run(capsys, "trace", row_id, "--url", seeded_url, "--format", "json")
    assert code == 0
    [row] = json.loads(out)
    assert row["id"] == row_id
    assert row["error_type"] == "RateLimitError" and row["http_status_code"] == 429


def test_trace_unknown(capsys, seeded_url):
    code, _, err = run(capsys, "trace", "f" * 32, "--url", seeded_url)
    assert code == 1 and "nothing recorded" in err


def test_report_written(capsys, seeded_url, tmp_path):
    target = tmp_path / "out" / "report.html"
    code, out, err = run(capsys, "report", "--html", str(target), "--url", seeded_url, *WINDOW)
    assert code == 0 and str(target) in out
    assert "[6/6]" in err  # progress
    page = target.read_text()
    assert page.count("<svg") == 7


@pytest.mark.parametrize("where", ["under_a_file", "a_directory"])
def test_report_unwritable_destination_fails_before_any_query(capsys, seeded_url, tmp_path, where):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    target = blocker / "report.html" if where == "under_a_file" else tmp_path
    code, out, err = run(capsys, "report", "--html", str(target), "--url", seeded_url, *WINDOW)
    assert code == 1 and out == ""
    assert err.startswith("otel-llm: ") and str(blocker if where == "under_a_file" else tmp_path) in err
    assert "[1/6]" not in err  # refused before the first query


def test_failed_report_keeps_the_previous_page(capsys, seeded_url, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("last week's report")
    empty_window = ["--since", "2020-01-01T00:00", "--until", "2020-01-01T01:00"]
    code, _, _ = run(capsys, "report", "--html", str(target), "--url", seeded_url, *empty_window)
    assert code == 1
    assert target.read_text() == "last week's report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no partial file left behind


def test_trace_prints_small_costs_in_fixed_point():
    from decimal import Decimal

    from otel_llm.analytics.trace import as_json, as_text

    row = {"id": "x", "span_name": "embeddings text-embedding-3-small", "cost_usd": Decimal("1.00E-7"),
           "cost_details": {"input": Decimal("1E-7")}}
    assert "0.000000100" in as_text([row]) and "E-" not in as_text([row])
    assert json.loads(as_json([row]))[0]["cost_details"] == {"input": "0.0000001"}
