"""Exporter throughput and memory.

    python benchmarks/bench_export.py [--spans 50000] [--payload-bytes 2048] [--rounds 5]

1. LLM spans/s end to end: finished SDK spans -> LLMTraceExporter.export (row building,
   writer) -> spool -> the store process -> embedded chDB, timed until a query (which the
   store process answers once it has ingested the spool) counts every row; against a
   bare insert of the same rows (the row tuples the exporter builds): the writer alone, and one
   direct insert into the engine, Arrow conversion included (the target's yardstick: what
   inserting those rows from Python takes at least), with the engine's share alone beside it. Each of
   ``--rounds`` runs the export and the bare insert twice each (export, insert, ..., insert,
   export); figures are medians over the rounds, after one warm-up round.
2. export() beside 0, 1 and 2 Python threads that never wait, as an app's threads under load:
   what the calls that let go of the GIL cost when getting it back means waiting for them.
3. CPU per span of export() for spans our instrumentors made in this process (full payloads
   kept with the span, serialized by the exporter), rows built and encoded but not stored.
4. Peak RSS for one span carrying a 10 MB request payload (target: at most 3x the payload),
   measured in a fresh process after the store is warm, so the engine's own baseline is excluded.

CPU figures are this process's: the store process's own work (decoding the spool, Arrow, chDB's
insert) is not in them. The bare insert runs the engine in this process, on a directory of its own.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind

from otel_llm import LLMTraceExporter
from otel_llm import attributes as attr
from otel_llm.exporter.row import build_row, span_attributes
from otel_llm.exporter.sources import normalize
from otel_llm.storage import open_store
from otel_llm.storage.chdb_store import ChdbStore
from otel_llm.storage.schema import apply as apply_schema
from otel_llm.storage.codec import SCHEMA, encode, record_batch
from otel_llm.storage.codec import chunks as codec_chunks
from otel_llm.storage.writer import ENCODE_ROWS

BATCH = 512  # BatchSpanProcessor's default max export batch size


def make_spans(count: int, payload_bytes: int) -> list[ReadableSpan]:
    """Spans as our OpenAI instrumentor writes them, with ~payload_bytes of request + response."""
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    tracer = provider.get_tracer("otel_llm.openai")
    text = "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (payload_bytes // 2 // 57 + 1)
    request = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": text[: payload_bytes // 2]}]})
    response = json.dumps({"id": "chatcmpl-1", "choices": [{"message": {"content": text[: payload_bytes // 2]}}]})
    spans = []
    for i in range(count):
        span = tracer.start_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                attr.OPERATION_NAME: "chat",
                attr.PROVIDER_NAME: "openai",
                attr.REQUEST_MODEL: "gpt-4o",
                attr.RESPONSE_MODEL: "gpt-4o-2024-08-06",
                attr.RESPONSE_ID: f"chatcmpl-{i}",
                attr.RESPONSE_FINISH_REASONS: ("stop",),
                attr.SERVER_ADDRESS: "api.openai.com",
                attr.USAGE_INPUT_TOKENS: 1200,
                attr.USAGE_OUTPUT_TOKENS: 300,
                attr.USAGE_CACHE_READ_INPUT_TOKENS: 1000,
                attr.USAGE_DETAILS: '{"audio_input":0,"audio_output":0,"accepted_prediction":0,"rejected_prediction":0}',
                attr.COST_USD: "0.004250000",
                attr.COST_DETAILS: '{"input":"0.000500000","cache_read":"0.001250000","output":"0.003000000"}',
                attr.COST_PRICING_VERSION: "2026-11-22",
                attr.BILLING_CUSTOMER_ID: f"cust-{i % 50}",
                attr.AGENT_ID: "agent-1",
                attr.RUN_ID: f"run-{i % 500}",
                attr.AGENT_TAGS: ("prod", "support"),
                attr.REQUEST_JSON: request,
                attr.RESPONSE_JSON: response,
                attr.LLM_CONFIG_JSON: '{"model":"gpt-4o","temperature":0.2}',
            },
        )
        span.end()
        spans.append(span._readable_span())
    return spans


def batches(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bench_throughput(count: int, payload_bytes: int, freeze: bool, rounds: int) -> None:
    spans = make_spans(count, payload_bytes)
    rows = [build_row(span, normalize(span_attributes(span)), None) for span in spans]
    if freeze:
        # The pre-built spans and rows (~1M objects) exist only because the benchmark builds
        # them all up front; an app exports spans as they end. Left to the collector they make
        # every full collection during the run walk them (~15% of the end-to-end CPU).
        gc.freeze()
    figures = []
    # One exporter and one store process for every round, as in an app exporting steadily
    # (main() keeps the store process from exiting between rounds).
    with tempfile.TemporaryDirectory() as tmp:
        url = f"chdb://{Path(tmp) / 'db'}"
        exporter = LLMTraceExporter(url, forward_to=None)
        # Warm the engine and the schema outside the timings.
        exporter.export(spans[:10])
        assert exporter.force_flush(60_000)
        store = open_store(url)  # the store process, as the CLI reads it
        store.query("SELECT count() FROM llm_traces")  # ingests the warm-up rows
        bare = ChdbStore(Path(tmp) / "bare")  # the yardstick's engine, in this process
        apply_schema(bare)
        encode(rows[:10])  # pyarrow's first conversion imports pandas (~0.5 s): not per row
        store.command("TRUNCATE TABLE llm_traces")
        # The first full-size round is often the slowest: the engine and the writer grow their
        # memory for the first time, which an app pays once. It is run first and reported, not
        # counted.
        warm_up = _round(exporter, store, bare, spans, rows)
        for _ in range(rounds):
            figures.append(_round(exporter, store, bare, spans, rows))
        exporter.shutdown()
        store.close()
        bare.close()

    print(f"spans: {count}, payload ~{payload_bytes} B each, batches of {BATCH}, cpus: {os.cpu_count()}, "
          f"rounds: {rounds}, load average: {os.getloadavg()[0]:.1f}")
    print("  wall clock (depends on what else the machine runs); median of the rounds [min - max]:")
    rate = lambda key: median_range([count / f[key] for f in figures], ",.0f")  # noqa: E731
    print(f"    exporter end to end (export + force_flush): {rate('total_s')} spans/s")
    print(f"      of which export() calls:                  {rate('export_s')} spans/s")
    print(f"    bare insert, same rows via writer:          {rate('writer_s')} rows/s")
    print(f"    bare insert, Arrow batches into chDB:       {rate('insert_s')} rows/s")
    print(f"      of which chDB's insert of the Arrow table: {rate('engine_s')} rows/s")
    ratios = [f["insert_s"] / f["total_s"] * 100 for f in figures]
    print(f"    end to end / bare Arrow insert, per round (target >= 80%): {median_range(ratios, '.0f')} %")
    print(f"      in round order: {', '.join(f'{ratio:.0f}' for ratio in ratios)}"
          f" (warm-up round, not counted: {warm_up['insert_s'] / warm_up['total_s'] * 100:.0f})")
    ratios = [f["writer_s"] / f["total_s"] * 100 for f in figures]
    print(f"    end to end / bare insert via writer, per round:           {median_range(ratios, '.0f')} %")
    print("  per CPU-second (all threads, chDB's included; steadier on a shared machine):")
    cpu_rate = lambda key: median_range([count / f[key] for f in figures], ",.0f")  # noqa: E731
    print(f"    exporter end to end:                        {cpu_rate('total_cpu_s')} spans/CPU-s")
    print(f"    bare insert via writer:                     {cpu_rate('writer_cpu_s')} rows/CPU-s")
    print(f"    row building alone (normalize + build_row): {cpu_rate('row_cpu_s')} spans/CPU-s")
    print(f"    encoding alone (Arrow record batches):      {cpu_rate('encode_cpu_s')} rows/CPU-s")
    print("  end to end CPU per span, by thread (the first two hold the GIL most of the time):")
    per_span = lambda values: median_range([v / count * 1e6 for v in values], ".1f")  # noqa: E731
    print(f"    export() calls (row building):              {per_span([f['export_cpu_s'] for f in figures])} us")
    for name in ("otel-llm-writer", "otel-llm-inserter"):
        print(f"    {name + ' thread:':<44}{per_span([f['threads'].get(name, 0.0) for f in figures])} us")
    print(f"    everything else (chDB's own threads):        {per_span([f['other_cpu_s'] for f in figures])} us")
    print(f"  every export stored its {count} distinct rows (checked with FINAL after each)")


def _round(exporter: LLMTraceExporter, store, bare: ChdbStore, spans: list[ReadableSpan], rows: list[tuple]) -> dict:
    """One round, in seconds: the export and the bare insert twice each, in the order export,
    insert, (the other yardsticks), insert, export, so a steady drift in the machine's speed
    (this VM's swings by a third within minutes) moves both sides of the ratio alike."""
    first_export = _export(exporter, store, spans)
    first_insert = _bare_insert(bare, rows)
    writer = exporter.writer  # the writer alone, given the rows the exporter would give it
    writer_started, writer_cpu = time.perf_counter(), time.process_time()
    for batch in batches(rows):
        writer.submit(batch)
    assert writer.force_flush(300)
    store.query("SELECT count() FROM llm_traces")  # answered once the spool is ingested
    writer_s, writer_cpu_s = time.perf_counter() - writer_started, time.process_time() - writer_cpu
    store.command("TRUNCATE TABLE llm_traces")

    # This thread's CPU only: chDB may still be merging the parts just written.
    row_started = time.thread_time()
    for span in spans:
        build_row(span, normalize(span_attributes(span)), None)
    row_cpu_s = time.thread_time() - row_started

    second_insert = _bare_insert(bare, rows)
    second_export = _export(exporter, store, spans)
    exports, inserts = (first_export, second_export), (first_insert, second_insert)
    mean = lambda key, runs: sum(run[key] for run in runs) / len(runs)  # noqa: E731
    return {
        **{key: mean(key, exports) for key in first_export if key != "threads"},
        **{key: mean(key, inserts) for key in first_insert},
        "threads": {name: mean(name, [run["threads"] for run in exports]) for name in first_export["threads"]},
        "writer_s": writer_s,
        "writer_cpu_s": writer_cpu_s,
        "row_cpu_s": row_cpu_s,
    }


_WRITER_THREADS = ("otel-llm-writer", "otel-llm-inserter")


def _export(exporter: LLMTraceExporter, store, spans: list[ReadableSpan]) -> dict:
    """The exporter end to end, until the store process, having ingested the spool, counts every
    row; then an empty table."""
    threads_started = _threads_cpu_s(_WRITER_THREADS)
    started, cpu_started, export_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    for batch in batches(spans):
        exporter.export(batch)
    export_done, export_cpu_s = time.perf_counter(), time.thread_time() - export_cpu
    assert exporter.force_flush(300_000)
    _, counted = store.query("SELECT count() FROM llm_traces FINAL")
    stored, cpu_stored = time.perf_counter(), time.process_time()
    threads = {name: cpu - threads_started[name] for name, cpu in _threads_cpu_s(_WRITER_THREADS).items()}
    assert counted[0][0] == len(spans), f"stored {counted[0][0]} distinct rows of {len(spans)}"
    store.command("TRUNCATE TABLE llm_traces")
    total_cpu_s = cpu_stored - cpu_started
    return {
        "total_s": stored - started,
        "export_s": export_done - started,
        "total_cpu_s": total_cpu_s,
        "export_cpu_s": export_cpu_s,
        "threads": threads,
        "other_cpu_s": total_cpu_s - export_cpu_s - sum(threads.values()),
    }


def _bare_insert(store: ChdbStore, rows: list[tuple]) -> dict:
    """The yardstick: the same rows as Arrow record batches, inserted in one statement as the
    embedded store inserts a batch (no IPC stream in between); then an empty table."""
    encode_started, encode_cpu = time.perf_counter(), time.thread_time()
    # In the writer's chunks: one 50,000-row record batch takes twice as long a row (13-14 against
    # 6-7 us), its 53 transposed columns of Python objects no longer fitting the CPU's caches.
    table = pa.Table.from_batches([record_batch(chunk) for chunk in batches(rows, ENCODE_ROWS)], SCHEMA)
    insert_started, encode_cpu_s = time.perf_counter(), time.thread_time() - encode_cpu
    store.insert_table(table)
    inserted = time.perf_counter()
    del table
    store.command("TRUNCATE TABLE llm_traces")
    return {"insert_s": inserted - encode_started, "engine_s": inserted - insert_started, "encode_cpu_s": encode_cpu_s}


def median_range(values: list[float], spec: str) -> str:
    middle = format(statistics.median(values), spec)
    return middle if len(values) == 1 else f"{middle} [{min(values):{spec}} - {max(values):{spec}}]"


def _threads_cpu_s(names: tuple[str, ...]) -> dict[str, float]:
    """CPU seconds so far of this process's threads with these names (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for thread in threading.enumerate():
        if thread.name in names and thread.native_id is not None:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
            found[thread.name] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return found


def bench_busy_app(payload_bytes: int, spans_per_round: int = 10_240, rounds: int = 3) -> None:
    """export() beside Python threads that never wait (an app's request threads under load).

    Every call into pyarrow or chDB that lets go of the GIL must wait for it to come back, up to
    the interpreter's switch interval (5 ms) when another thread is running Python: a measure of
    how many such calls the export makes, as much as of its CPU.
    """
    spans = make_spans(spans_per_round, payload_bytes)
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            pass

    with tempfile.TemporaryDirectory() as tmp:
        exporter = LLMTraceExporter(f"chdb://{Path(tmp) / 'db'}", forward_to=None)
        exporter.export(spans[:10])
        assert exporter.force_flush(60_000)
        print(f"export() beside busy Python threads ({spans_per_round} spans a round, median of {rounds}):")
        for threads in (0, 1, 2):
            rates = []
            for _ in range(rounds):
                stop.clear()
                workers = [threading.Thread(target=busy, daemon=True) for _ in range(threads)]
                for worker in workers:
                    worker.start()
                started = time.perf_counter()
                for batch in batches(spans):
                    exporter.export(batch)
                rates.append(spans_per_round / (time.perf_counter() - started))
                stop.set()
                for worker in workers:
                    worker.join()
                assert exporter.force_flush(300_000)
            print(f"  {threads} busy thread{'s' if threads != 1 else ' '}: {median_range(rates, ',.0f')} spans/s")
        exporter.shutdown()


def bench_in_process(count: int = 2048, rounds: int = 5) -> None:
    """CPU per span of export() for spans our instrumentors made in this process: their full
    payloads are kept with the span as the SDK's objects and are serialized here (bench_instrumentation's
    calls, through the real SDKs and an in-process transport). Rows are built and encoded, not
    stored, so this is the exporter thread's own work."""
    import bench_instrumentation as calls_bench
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    import otel_llm

    os.environ.update(calls_bench.WORKER_ENV)

    class EncodeOnly(calls_bench._NullWriter):
        def submit(self, rows: list) -> None:
            for chunk in codec_chunks(rows, ENCODE_ROWS):
                record_batch(chunk)

    finished: list[ReadableSpan] = []

    class Collect(SpanExporter):
        def export(self, spans):  # noqa: ANN001
            finished.extend(spans)
            return SpanExportResult.SUCCESS

    exporter = LLMTraceExporter(writer=EncodeOnly(), forward_to=None)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Collect()))
    instrumentors = [otel_llm.OpenAIInstrumentor(), otel_llm.AnthropicInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    calls = calls_bench._scenarios(("openai", "anthropic"))
    print(f"export() of in-process spans, full payloads kept with the spans ({count} spans, best of {rounds}), rows + encode:")
    for scenario in ("openai chat", "anthropic messages"):
        costs = []
        for _ in range(rounds):
            finished.clear()
            for _ in range(count):
                calls[scenario]()
            started = time.thread_time()
            for batch in batches(finished):
                exporter.export(batch)
            costs.append((time.thread_time() - started) / len(finished) * 1e6)
        print(f"  {scenario}: {min(costs):.1f} us CPU a span")
    for instrumentor in instrumentors:
        instrumentor.uninstrument()
    exporter.shutdown()


_RSS_CHILD = """
import json, re, tempfile
from pathlib import Path
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_llm import LLMTraceExporter
from otel_llm import attributes as attr
from otel_llm.exporter.offload import Offloader
from otel_llm.exporter.row import build_row, span_attributes
from otel_llm.exporter.sources import normalize

def rss_kb(field):
    return int(re.search(field + r":\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))

url = f"chdb://{Path(tempfile.mkdtemp()) / 'db'}"
tracer = TracerProvider().get_tracer("bench")
def span(payload):
    s = tracer.start_span("chat gpt-4o", attributes={attr.OPERATION_NAME: "chat", attr.REQUEST_JSON: payload})
    s.end()
    return s._readable_span()

forwarded = InMemorySpanExporter()
exporter = LLMTraceExporter(url, forward_to=forwarded)
exporter.export([span(json.dumps({"messages": [{"role": "user", "content": "warm" * 1000}]}))])
exporter.force_flush(60_000)
payload = json.dumps({"messages": [{"role": "user", "content": "x" * (10 * 1024 * 1024)}]})
big = span(payload)
# Reset the high-water mark (Linux clear_refs 5) so neither the engine's start-up nor building the
# payload hides what exporting it costs.  The span holding the payload is the 1x baseline.
Path("/proc/self/clear_refs").write_text("5")
base_kb = rss_kb("VmRSS")
# The exporter's own share: the row and the slim span, before the writer sees anything.
row = build_row(big, normalize(span_attributes(big)), None)
slim = Offloader().slim(big, row.id.hex())
own_kb = rss_kb("VmHWM")
del row, slim
exporter.export([big])
assert exporter.force_flush(60_000)
peak_kb = rss_kb("VmHWM")
exporter.shutdown()
print(json.dumps({"payload_bytes": len(payload), "base_kb": base_kb, "own_kb": own_kb, "peak_kb": peak_kb}))
"""


def bench_rss() -> None:
    out = subprocess.run([sys.executable, "-c", _RSS_CHILD], check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    payload_mb = figures["payload_bytes"] / 2**20

    def growth(key: str) -> str:
        mb = (figures[key] - figures["base_kb"]) / 1024
        return f"{mb:.1f} MB = {mb / payload_mb:.2f}x"

    print(f"10 MB payload: peak RSS while exporting, over a warm {figures['base_kb'] / 1024:.0f} MB process "
          f"already holding the span (target: growth <= 2x, i.e. <= 3x with the payload itself):")
    print(f"  span + row + slim span (exporter alone):   {growth('own_kb')}")
    print(f"  end to end (+ writer encode + chDB insert): {growth('peak_kb')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--payload-bytes", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=5, help="end-to-end runs, each beside its yardsticks")
    parser.add_argument("--no-freeze", action="store_true", help="leave the pre-built spans to the garbage collector")
    args = parser.parse_args()
    os.environ["OTEL_LLM_STORE_IDLE_S"] = "600"  # one store process for every round; it exits after
    bench_throughput(args.spans, args.payload_bytes, freeze=not args.no_freeze, rounds=args.rounds)
    bench_busy_app(args.payload_bytes)
    bench_in_process()
    bench_rss()


if __name__ == "__main__":
    main()
