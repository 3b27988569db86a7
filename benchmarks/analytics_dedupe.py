"""How to read ``llm_traces`` without double-counting un-merged duplicates, measured on 10M rows.

    python benchmarks/analytics_dedupe.py [--rows 10000000] [--path /tmp/otel-llm-bench]

Fills an embedded chDB store with synthetic calls spread over 30 days (each with a response id and
a parent span, as calls made inside an agent's span are; 1% of them inserted a second time, as
retried batches would be), then times ``otel-llm stats --by model`` over a 1-day and the
30-day window with four ways of deduplicating: none (wrong, the baseline), FINAL, ``LIMIT 1 BY id``
and ``argMax(..., inserted_at) GROUP BY id``; and with what ``otel_llm.analytics.queries`` reads,
``CALLS``: FINAL, then each provider call once when several spans described it.
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import datetime, timedelta, timezone

from otel_llm.analytics import queries
from otel_llm.analytics.window import Window
from otel_llm.storage import open_store, schema

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
DAYS = 30

_FILL = """
INSERT INTO default.llm_traces (id, timestamp, end_timestamp, trace_id, span_id, parent_span_id, response_id, provider,
    request_model, response_model, customer_id, agent_id, billing_plan_type, call_type,
    prompt_tokens, cached_input_tokens, completion_tokens, reasoning_tokens, cost_usd,
    latency_ms, ttft_ms, is_error, request_json, response_json)
SELECT
    reinterpretAsUUID(MD5(toString(number))) AS id,
    addMicroseconds(toDateTime64('{start}', 6, 'UTC'), intDiv(number * {span_us}, {rows})) AS ts,
    ts + toIntervalMillisecond(number % 3000) AS end_ts,
    hex(MD5(toString(number))), hex(number), hex(number + 1000000000000), concat('resp-', hex(number)),
    ['openai', 'anthropic'][number % 2 + 1],
    ['gpt-4o', 'claude-sonnet-4-5', 'gpt-4o-mini', 'claude-haiku-4-5'][number % 4 + 1],
    ['gpt-4o', 'claude-sonnet-4-5', 'gpt-4o-mini', 'claude-haiku-4-5'][number % 4 + 1],
    concat('customer-', toString(number % 500)), concat('agent-', toString(number % 20)),
    ['free', 'pro', 'enterprise'][number % 3 + 1], 'chat',
    1000 + number % 5000, number % 700, 100 + number % 900, if(number % 5 = 0, 50, NULL),
    toDecimal64((number % 1000) / 100000, 9), 200 + number % 3000,
    if(number % 2 = 0, 50 + number % 400, NULL), number % 50 = 0,
    repeat('{{"role":"user","content":"payload"}}', 20), repeat('{{"content":"answer"}}', 20)
FROM numbers({first}, {count})
"""


def fill(db, rows: int) -> None:
    fill_sql = _FILL.replace("{start}", START.strftime("%Y-%m-%d %H:%M:%S")).replace(
        "{span_us}", str(DAYS * 86_400_000_000)).replace("{rows}", str(rows))
    chunk = 1_000_000
    for first in range(0, rows, chunk):
        db.command(fill_sql.replace("{first}", str(first)).replace("{count}", str(min(chunk, rows - first))))
        print(f"  inserted {min(first + chunk, rows):,} / {rows:,}", flush=True)
    # Re-insert every 100th row in one more batch: the duplicates a retried insert leaves behind.
    db.command(fill_sql.replace("FROM numbers({first}, {count})", f"FROM numbers({rows}) WHERE number % 100 = 0"))


def variants() -> dict[str, str]:
    final = queries.stats_sql(["model"])
    table = "{db:Identifier}.llm_traces"
    columns = ("timestamp, id, provider, request_model, response_model, is_error, prompt_tokens, "
               "cached_input_tokens, completion_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms")
    # Every column but the grouping ones; copies of a row share timestamp and id.
    latest = ", ".join(f"argMax({c}, inserted_at) AS {c}" for c in columns.split(", ")[2:])
    return {
        "none (double counts)": final.replace(queries.CALLS, table),
        "FINAL": final.replace(queries.CALLS, queries.SOURCE),
        "LIMIT 1 BY id": final.replace(queries.CALLS, f"(SELECT {columns} FROM {table} WHERE "
                                       f"{queries.WINDOW} LIMIT 1 BY id)"),
        "argMax GROUP BY id": final.replace(queries.CALLS, f"(SELECT timestamp, id, {latest} FROM {table} "
                                            f"WHERE {queries.WINDOW} GROUP BY timestamp, id)"),
        # What the analytics read: FINAL, then each provider call once (queries.CALLS).
        "CALLS (FINAL + calls)": final,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--path", default="/tmp/otel-llm-bench-analytics")
    args = parser.parse_args()
    shutil.rmtree(args.path, ignore_errors=True)
    shutil.rmtree(args.path + ".spool", ignore_errors=True)
    db = open_store(f"chdb://{args.path}")
    schema.apply(db)
    print(f"filling {args.rows:,} rows (+1% duplicates) ...", flush=True)
    fill(db, args.rows)
    windows = {
        "1 day": Window(START + timedelta(days=10), START + timedelta(days=11)),
        f"{DAYS} days": Window(START, START + timedelta(days=DAYS)),
    }
    for label, window in windows.items():
        print(f"\nstats --by model over {label}:")
        params = {"db": "default", **window.parameters}
        for name, sql in variants().items():
            best, calls = float("inf"), None
            for _ in range(3):
                began = time.perf_counter()
                columns, result = db.query(sql, params)
                best = min(best, time.perf_counter() - began)
                calls = next(row[columns.index("calls")] for row in result if row[columns.index("rolled_up_0")])
            print(f"  {name:22s} {best * 1000:8.0f} ms   calls={calls:,}")
    db.close()


if __name__ == "__main__":
    main()
