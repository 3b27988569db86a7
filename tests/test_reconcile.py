"""Spans of one call that reach the table in different inserts leave the rows one batch would:
one row per call, the most complete, filled from the others (``otel_llm.storage.reconcile``).

The spans are made by a real SDK tracer, exported one per batch through the real exporter and
writer, and each batch is inserted on its own (embedded: the store process ingests before a query;
remote: the writer delivers on ``force_flush``). The table is then read without ``FINAL``: what a
user's own ``SELECT count()`` sees.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm.analytics import stats
from otel_llm.analytics.window import Window
from otel_llm.exporter import LLMTraceExporter
from otel_llm.storage import calls, open_store, open_writer, schema, values
from otel_llm.storage.columns import COLUMN_NAMES
from otel_llm.storage import reconcile
from otel_llm.storage.reconcile import Reconciler, delete_target

from tests.exporter.test_calls import OPENLLMETRY, SDK, Sink, _span

COMPARED = (
    "span_id", "span_name", "provider", "request_model", "response_model", "response_id", "is_stream",
    "prompt_tokens", "completion_tokens", "total_tokens", "cached_input_tokens", "cache_write_tokens",
    "usage_details", "cost_usd", "cost_details", "request_json", "response_json", "llm_config_json",
)


def nested(provider) -> None:
    """OpenLLMetry's span (messages, no id) around the SDK's own span (id, 5m/1h split)."""
    with provider.get_tracer("app").start_as_current_span("agent run"):
        with _span(provider, "@traceloop/instrumentation-anthropic", "chat claude-haiku-4-5", OPENLLMETRY):
            with _span(provider, "com.anthropic.sdk.typescript", "anthropic.messages.create", SDK):
                pass


def siblings(provider) -> None:
    """Two spans of one response id side by side: a bare framework span and the SDK's."""
    bare = {"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat", "gen_ai.response.id": "msg_1",
            "gen_ai.input.messages": OPENLLMETRY["gen_ai.input.messages"]}
    with provider.get_tracer("app").start_as_current_span("agent run"):
        with _span(provider, "some.framework", "chat", bare):
            pass
        with _span(provider, "com.anthropic.sdk.python", "chat claude-haiku-4-5", SDK):
            pass


def retried(provider) -> None:
    """A span around two retried calls: each call is billed, the wrapper is not."""
    with _span(provider, "@traceloop/instrumentation-anthropic", "chat claude-haiku-4-5", OPENLLMETRY):
        for response_id in ("msg_1", "msg_2"):
            with _span(provider, "com.anthropic.sdk.typescript", "anthropic.messages.create", {**SDK, "gen_ai.response.id": response_id}):
                pass


def two_calls(provider) -> None:
    """Two calls of one trace: nothing to merge."""
    with provider.get_tracer("app").start_as_current_span("agent run"):
        for response_id in ("msg_1", "msg_2"):
            with _span(provider, "com.anthropic.sdk.python", "chat claude-haiku-4-5", {**SDK, "gen_ai.response.id": response_id}):
                pass


def finished_spans(make_spans) -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    make_spans(provider)
    provider.shutdown()
    return list(memory.get_finished_spans())


def exported(spans: list) -> list[dict]:
    """The rows the exporter makes of ``spans`` as one batch."""
    sink = Sink()
    exporter = LLMTraceExporter(writer=sink, forward_to=None)
    exporter.export(spans)
    exporter.shutdown()
    return sink.rows


def in_one_batch(spans: list) -> list[dict]:
    return sorted(({name: row[name] for name in COMPARED} for row in exported(spans)), key=lambda row: row["span_id"])


def in_the_table(store) -> list[dict]:
    names, rows = store.query(f"SELECT {', '.join(COMPARED)} FROM llm_traces ORDER BY span_id")  # no FINAL
    return [dict(zip(names, row)) for row in rows]


def export_apart(url: str, spans: list, between) -> None:
    """Each span in an export batch of its own, inserted before the next is exported."""
    writer = open_writer(url)
    exporter = LLMTraceExporter(writer=writer, forward_to=None)
    try:
        for span in spans:
            exporter.export([span])
            assert writer.force_flush()
            between()
    finally:
        exporter.shutdown()


@pytest.mark.parametrize("order", ["as ended", "reversed"])
@pytest.mark.parametrize("make_spans", [nested, siblings, retried, two_calls], ids=lambda f: f.__name__)
def test_embedded_table_holds_what_one_batch_would(chdb_url, make_spans, order) -> None:
    spans = finished_spans(make_spans)
    if order == "reversed":
        spans.reverse()
    expected = in_one_batch(spans)
    store = open_store(chdb_url)
    try:
        export_apart(chdb_url, spans, lambda: store.query("SELECT 1"))  # a query ingests what is spooled
        stored = in_the_table(store)
    finally:
        store.close()
    if make_spans is retried and order == "reversed":
        # The wrapper came first, then one call: it wrapped that one call only, as far as could be
        # known, which took its messages. Billed the same: each call once, the wrapper not.
        for row in stored:
            row["request_json"] = ""
    assert stored == expected


def test_nested_call_is_one_row_with_what_each_span_carried(chdb_url) -> None:
    store = open_store(chdb_url)
    try:
        export_apart(chdb_url, finished_spans(nested), lambda: store.query("SELECT 1"))
        [row] = in_the_table(store)
    finally:
        store.close()
    # The SDK's span (nearest the provider) is the row, with the messages only the outer span had.
    assert (row["span_name"], row["response_id"], row["prompt_tokens"]) == ("anthropic.messages.create", "msg_1", 3600)
    assert row["usage_details"] == {"cache_write_5m": 1000, "cache_write_1h": 500}
    assert '"content": "hi"' in row["request_json"]


@pytest.mark.parametrize("make_spans", [nested, siblings], ids=lambda f: f.__name__)
def test_remote_table_holds_what_one_batch_would(clickhouse_http, make_spans) -> None:
    spans = finished_spans(make_spans)
    export_apart(clickhouse_http.url, spans, lambda: None)  # the remote writer inserts on force_flush
    store = open_store(clickhouse_http.url)
    try:
        assert in_the_table(store) == in_one_batch(spans)
    finally:
        store.close()


def test_first_pass_merges_what_a_crash_left(clickhouse_http) -> None:
    """Rows inserted without a pass (a writer killed between its insert and its pass) are merged
    by the next writer's first pass, which covers the last hour of inserts; a second pass changes
    nothing."""
    spans = finished_spans(nested)
    expected = in_one_batch(spans)
    rows = [values.as_row(row) for span in spans for row in exported([span])]
    store = open_store(clickhouse_http.url)
    try:
        schema.apply(store)
        for row in rows:
            store.insert(COLUMN_NAMES, [row])
        assert len(in_the_table(store)) == 2
        reconciler = Reconciler("default")
        reconciler.inserted(time.monotonic())
        reconciler.run(store)
        assert in_the_table(store) == expected
        reconciler.inserted(time.monotonic() - 60)
        reconciler.run(store)
        assert in_the_table(store) == expected
    finally:
        store.close()


def test_on_a_cluster_rows_are_deleted_from_the_local_tables() -> None:
    # engine_full as ClickHouse reports the Distributed table init-db --cluster creates.
    engine = "Distributed('prod_cluster', 'obs', 'llm_traces_local', cityHash64(trace_id))"
    assert delete_target("obs", engine) == "`obs`.`llm_traces_local` ON CLUSTER `prod_cluster`"
    assert delete_target("obs", "ReplacingMergeTree(inserted_at) PARTITION BY ...") == "`obs`.llm_traces"


def test_a_pass_merges_more_calls_than_one_round_takes(clickhouse_http, monkeypatch) -> None:
    monkeypatch.setattr(reconcile, "MAX_TRACES", 2)
    spans = [span for _ in range(5) for span in finished_spans(nested)]
    store = open_store(clickhouse_http.url)
    try:
        schema.apply(store)
        store.insert(COLUMN_NAMES, [values.as_row(row) for span in spans for row in exported([span])])
        assert len(in_the_table(store)) == 10
        reconciler = Reconciler("default")
        reconciler.inserted(time.monotonic())
        reconciler.run(store)
        assert in_the_table(store) == in_one_batch(spans)
    finally:
        store.close()


def test_a_pass_cut_off_after_its_rewrite_is_finished_by_the_next(clickhouse_http) -> None:
    """The kept row took its provider from the other span, so its rewritten copy has another sort
    key than its first copy, and FINAL keeps both until the pass's delete. A writer killed before
    that delete leaves the first copy, the rewritten one and the replaced row: the next pass leaves
    the rewritten one only."""
    inner_span, outer_span, _ = finished_spans(nested)  # in the order they ended
    [inner], [outer] = ([values.as_row(row) for row in exported([span])] for span in (inner_span, outer_span))
    assert (outer.span_id, inner.parent_span_id) == (inner.parent_span_id, outer.span_id)
    first = inner._replace(provider="")
    [merged] = calls.one_row_per_call([outer, first])
    assert (merged.id, merged.provider) == (inner.id, "anthropic")
    store = open_store(clickhouse_http.url)
    try:
        schema.apply(store)
        store.insert(COLUMN_NAMES, [outer, first])
        time.sleep(0.01)  # the rewritten copy is newer
        store.insert(COLUMN_NAMES, [merged])
        reconciler = Reconciler("default")
        reconciler.inserted(time.monotonic())
        reconciler.run(store)
        names, rows = store.query("SELECT span_id, provider, request_json != '' FROM llm_traces")  # no FINAL
    finally:
        store.close()
    assert rows == [(inner.span_id, "anthropic", True)]


def test_a_store_refusing_deletes_keeps_a_row_per_span_and_counts_the_call_once(clickhouse_http, caplog) -> None:
    """A server where the writer may not delete (here lightweight deletes are switched off by a
    setting in the URL, as a missing ALTER DELETE grant refuses them): the pass is refused and
    said once, the rows stay, and the totals still count the call once."""
    url = clickhouse_http.url + "?enable_lightweight_delete=0"
    spans = [span for _ in range(2) for span in finished_spans(nested)]  # two calls, two spans each
    began = datetime.now(timezone.utc)
    with caplog.at_level(logging.WARNING, logger="otel_llm.storage"):
        export_apart(url, spans, lambda: None)
    refused = [r for r in caplog.records if "cannot merge the rows of calls" in r.getMessage()]
    assert len(refused) == 1 and "Lightweight delete" in refused[0].getMessage()
    store = open_store(url)
    try:
        assert len(in_the_table(store)) == 4
        window = Window(began - timedelta(minutes=1), datetime.now(timezone.utc) + timedelta(minutes=1))
        assert stats.compute(store, window).total["calls"] == 2
    finally:
        store.close()
