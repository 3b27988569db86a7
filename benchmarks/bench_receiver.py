"""``otel-llm serve`` throughput: LLM spans/s over OTLP/HTTP protobuf into the embedded store.

    python -m benchmarks.bench_receiver [--spans 50000] [--payload-bytes 2048] [--connections 2] [--rounds 3]
    python -m benchmarks.bench_receiver --breakdown    # CPU per span of each stage, no HTTP
    python -m benchmarks.bench_receiver --distinct-values  # token counts and costs differ per span
    python -m benchmarks.bench_receiver --workers 2 --connections 8   # `otel-llm serve --workers 2`
    python -m benchmarks.bench_receiver --remote       # into a ClickHouse HTTP endpoint instead

The receiver (HTTP transport, real LLMTraceExporter, storage writer, embedded chDB) runs in this
process; the load comes from a separate process posting bodies the official OTLP encoder made
(512 spans each, the BatchSpanProcessor default) over keep-alive connections, so client CPU is
not billed to the server's GIL.  Reported: spans/s answered 200 (which means durable: in the
spool), and spans/s until every row is counted in ``llm_traces`` (the spool is empty and a
``count()`` finds them all), as medians over ``--rounds`` sends of the bodies; CPU per span of
the receiver and of the store process (``storage/service.py``, a detached process that owns chDB
and ingests the spool), and of both.  Target: >= 10,000 LLM spans/s on 2 cores.

The spans are bench_export's: the same token counts and cost on every span, which flatters the
receiver's cache of decoded attributes (``receiver/wire.py``); ``--distinct-values`` gives every
span its own token counts, cost and cost details, as real traffic has.

``--workers N`` runs ``otel-llm serve --workers N`` as a process of its own instead (N = 1 is the
single-process receiver, for a like-for-like comparison): "stored" is then when the server,
stopped with SIGTERM right after the last answer, has exited, i.e. its graceful shutdown put
every row in the store; CPU is that of the server and its workers from the first timed request
to their exit, plus the store process's.  The kernel assigns connections to workers by a hash,
so give several.

``--remote`` stores into a remote store instead: ClickHouse's HTTP interface served on loopback by
chDB in a child process (the tests' ``clickhouse_http.py``), through clickhouse-connect; the
store-process CPU is then that server's.  ``--remote-json`` sends JSON as app workers do instead
of the receiver's Arrow.

``--breakdown`` runs the same bodies through each stage in turn, in this process, and reports
CPU microseconds per span: protobuf parse, conversion to ReadableSpans (both the receiver's),
the exporter's rows (``sources.normalize`` + ``build_row``), the storage codec's Arrow encode
of writer-sized batches, and chDB's insert.  CPU time, so other load on the machine matters
less than for the wall-clock figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from benchmarks.bench_export import BATCH, batches, make_spans, median_range  # the exporter bench's spans
from otel_llm import LLMTraceExporter
from otel_llm.receiver import Receiver, ReceiverConfig, build_exporter
from otel_llm.receiver import decode
from otel_llm.receiver.convert import to_readable_spans  # noqa: E402
from otel_llm.receiver.server import tune_gc  # noqa: E402
from otel_llm.storage import open_store, open_writer  # noqa: E402
from otel_llm.storage.config import parse_url  # noqa: E402
from otel_llm.storage.spool import Spool  # noqa: E402
from otel_llm.storage.codec import encode, record_batch, write_stream  # noqa: E402
from otel_llm.storage.writer import ENCODE_ROWS  # noqa: E402
from tests.children import store_pids  # noqa: E402

_CLIENT = """
import http.client, json, pickle, sys, threading, time
port, path, connections = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bodies = pickle.load(open(path, "rb"))
statuses = []

def post(share):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for body in share:
        connection.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)

threads = [threading.Thread(target=post, args=(bodies[i::connections],)) for i in range(connections)]
started = time.time()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"started": started, "finished": time.time(), "statuses": sorted(set(statuses))}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--payload-bytes", type=int, default=2048)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="times the bodies are sent (one process, not --workers)")
    parser.add_argument(
        "--null-store",
        action="store_true",
        help="rows are built and dropped: the receiver's own cost, without the chDB insert",
    )
    parser.add_argument("--breakdown", action="store_true", help="CPU per span of each stage, no HTTP")
    parser.add_argument("--workers", type=int, help="run `otel-llm serve --workers N` as a separate process")
    parser.add_argument("--remote", action="store_true", help="store into ClickHouse's HTTP interface (chDB-served)")
    parser.add_argument("--remote-json", action="store_true", help="with --remote: JSON rows, as app workers send")
    parser.add_argument(
        "--distinct-values", action="store_true", help="token counts, cost and cost details differ per span"
    )
    args = parser.parse_args()

    spans = make_spans(args.spans, args.payload_bytes)
    requests = [encode_spans(batch) for batch in batches(spans)]
    if args.distinct_values:
        _distinct_values(requests)
    bodies = [request.SerializeToString() for request in requests]
    del spans
    if args.breakdown:
        tune_gc()
        breakdown(bodies, args.spans)
        return
    if args.workers:
        bench_serve(args, bodies)
        return
    # What the benchmark built up front is not the receiver's working set (see bench_export);
    # tune_gc freezes it along with the modules, and sets the collector as `otel-llm serve` does.
    tune_gc()
    with tempfile.TemporaryDirectory() as tmp:
        bodies_path = Path(tmp) / "bodies.pickle"
        bodies_path.write_bytes(pickle.dumps(bodies))
        url = f"chdb://{Path(tmp) / 'db'}"
        server = None
        if args.remote:
            from tests.clickhouse_http import ClickHouseHTTP

            os.environ["OTEL_LLM_HOME"] = str(Path(tmp) / "home")  # the remote store's spool
            server = ClickHouseHTTP(Path(tmp) / "server-data")
            server.start()
            url = server.url
        store_cpu_s = (lambda: _tree_cpu_s(server._proc.pid)) if server else (lambda: _store_cpu_s(url))
        config = ReceiverConfig(http_port=0, grpc_port=None)
        exporter = LLMTraceExporter(writer=_NullWriter(), forward_to=None) if args.null_store else None
        if args.remote_json:
            exporter = LLMTraceExporter(writer=open_writer(url), forward_to=None)
        receiver = Receiver(config, exporter or build_exporter(config, url)).start()
        try:
            # Warm the engine, the schema and the code paths outside the timing.
            warm = encode_spans(make_spans(10, args.payload_bytes)).SerializeToString()
            subprocess.run(
                [sys.executable, "-c", _CLIENT, str(receiver.http_port), _pickle(Path(tmp), [warm]), "1"],
                check=True,
                capture_output=True,
            )
            assert receiver.exporter.force_flush(60_000)
            if not args.null_store:
                _wait_stored(url, 10)
            gc_clock = _GcClock()
            rounds = []
            for _ in range(args.rounds):
                cpu_started = time.process_time()
                store_cpu_started = store_cpu_s()
                client = subprocess.run(
                    [sys.executable, "-c", _CLIENT, str(receiver.http_port), str(bodies_path), str(args.connections)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                timing = json.loads(client.stdout)
                assert receiver.exporter.force_flush(300_000)
                if not args.null_store:
                    _wait_stored(url, args.spans, since=timing["started"])
                rounds.append(
                    (timing, time.time(), time.process_time() - cpu_started, store_cpu_s() - store_cpu_started)
                )
            gc_clock.stop()
            health = receiver.health()
        finally:
            receiver.stop()
        counted = [["n/a (null store)"]]
        if not args.null_store:
            store = open_store(url)
            _, counted = store.query("SELECT count() FROM llm_traces FINAL")
            store.close()
            _stop_store_process(url)
        if server is not None:
            server.stop()

    statuses = sorted({status for timing, *_ in rounds for status in timing["statuses"]})
    print(
        f"spans: {args.spans} in {len(bodies)} requests of {BATCH}, payload ~{args.payload_bytes} B each, "
        f"{args.connections} connections, cpus: {os.cpu_count()}, rounds: {args.rounds}, statuses: {statuses}"
    )
    print("  median of the rounds [min - max]:")
    answered = [args.spans / (timing["finished"] - timing["started"]) for timing, *_ in rounds]
    stored = [args.spans / (stored - timing["started"]) for timing, stored, *_ in rounds]
    cpu = [cpu_s / args.spans * 1e6 for _, _, cpu_s, _ in rounds]
    store_cpu = [store_s / args.spans * 1e6 for *_, store_s in rounds]
    both = [(cpu_s + store_s) / args.spans * 1e6 for _, _, cpu_s, store_s in rounds]
    print(f"  answered (200, durable) over OTLP/HTTP:  {median_range(answered, ',.0f')} spans/s")
    print(f"  stored (all counted in llm_traces):      {median_range(stored, ',.0f')} spans/s")
    print(f"  receiver process CPU (all its threads):  {median_range(cpu, ',.1f')} us/span")
    print(f"  store process CPU (or remote server's):  {median_range(store_cpu, ',.1f')} us/span")
    print(f"  both:                                    {median_range(both, ',.1f')} us/span, "
          f"load average {os.getloadavg()[0]:.1f}")
    total_cpu_s = sum(cpu_s for _, _, cpu_s, _ in rounds)
    print(f"  garbage collector: {gc_clock.seconds:.2f} s in {gc_clock.collections} collections "
          f"({gc_clock.seconds / total_cpu_s:.0%} of the receiver's CPU)")
    print(f"  rows in store (FINAL): {counted[0][0]} (expected {args.spans + 10}); storage: {health.get('storage')}")


def _print_rates(
    args: argparse.Namespace, bodies: list[bytes], timing: dict, stored: float, server: str, stored_label: str
) -> None:
    answered_s = timing["finished"] - timing["started"]
    stored_s = stored - timing["started"]
    print(
        f"spans: {args.spans} in {len(bodies)} requests of {BATCH}, payload ~{args.payload_bytes} B each, "
        f"{server}{args.connections} connections, cpus: {os.cpu_count()}, statuses: {timing['statuses']}"
    )
    print(f"  answered (200) over OTLP/HTTP protobuf:  {args.spans / answered_s:>10,.0f} spans/s  ({answered_s:.2f} s)")
    print(f"  {stored_label}  {args.spans / stored_s:>10,.0f} spans/s  ({stored_s:.2f} s)")


def bench_serve(args: argparse.Namespace, bodies: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"chdb://{Path(tmp) / 'db'}"
        env = {**os.environ, "OTEL_LLM_CLICKHOUSE_URL": url, "OTEL_LLM_HOME": str(Path(tmp) / "home")}
        server = subprocess.Popen(
            [sys.executable, "-m", "otel_llm.cli", "serve", "--workers", str(args.workers), "--http-port", "0",
             "--grpc-port", "off"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = None
        for line in server.stderr:
            found = re.search(r"OTLP/HTTP port (\d+)", line)
            if found:
                port = int(found.group(1))
                break
        assert port, f"serve did not start: {server.wait()}"
        bodies_path = Path(tmp) / "bodies.pickle"
        bodies_path.write_bytes(pickle.dumps(bodies))
        # Warm every worker (connections land on workers by hash): engine, schema, code paths.
        warm = [encode_spans(make_spans(10, args.payload_bytes)).SerializeToString()] * (4 * args.workers)
        subprocess.run(
            [sys.executable, "-c", _CLIENT, str(port), _pickle(Path(tmp), warm), str(4 * args.workers)],
            check=True,
            capture_output=True,
        )
        time.sleep(3)  # the writers' flush interval, and the spool's ingestion
        _wait_stored(url, 10)  # the same 10 spans, several times
        server_cpu_before = _tree_cpu_s(server.pid)
        store_cpu_before = _store_cpu_s(url)
        children_before = _children_cpu_s()
        client = subprocess.run(
            [sys.executable, "-c", _CLIENT, str(port), str(bodies_path), str(args.connections)],
            check=True,
            capture_output=True,
            text=True,
        )
        timing = json.loads(client.stdout)
        children_after_client = _children_cpu_s()
        server.send_signal(signal.SIGTERM)
        server.wait(300)
        _wait_stored(url, args.spans, since=timing["started"])
        stored = time.time()
        server_cpu_s = _children_cpu_s() - children_after_client - server_cpu_before
        store_cpu_s = _store_cpu_s(url) - store_cpu_before
        client_cpu_s = children_after_client - children_before
        store = open_store(url)
        _, counted = store.query("SELECT count() FROM llm_traces FINAL")
        store.close()
        _stop_store_process(url)
    _print_rates(
        args, bodies, timing, stored, f"otel-llm serve --workers {args.workers}, ", "stored (counted in llm_traces):      "
    )
    print(f"  server CPU (all workers, to exit):       {server_cpu_s / args.spans * 1e6:>10,.1f} us/span "
          f"({server_cpu_s:.2f} s); client CPU {client_cpu_s:.2f} s; load average {os.getloadavg()[0]:.1f}")
    print(f"  store process CPU (spool -> chDB):       {store_cpu_s / args.spans * 1e6:>10,.1f} us/span")
    print(f"  rows in store (FINAL): {counted[0][0]} (expected {args.spans + 10})")


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds so far of a process and its children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _store_cpu_s(url: str) -> float:
    """CPU seconds so far of the store process of ``url`` (0 if none runs)."""
    return sum(_tree_cpu_s(pid) for pid in store_pids(url))


def _wait_stored(url: str, rows: int, since: float = 0.0, timeout_s: float = 600.0) -> None:
    """Until the spool is empty and the ``rows`` rows sent since ``since`` (time.time()) are
    counted in ``llm_traces``: the store process ingests the spool on its own; the count (which
    would ingest what is pending itself) only confirms it. Rounds send the same spans again, and
    merges collapse the older copies: rows are counted by their insertion time (the table's
    version column, so a row inserted since ``since`` is the one that survives a merge)."""
    spool = Spool(parse_url(url).spool_dir)
    deadline = time.monotonic() + timeout_s
    while spool.has_pending():
        assert time.monotonic() < deadline, "the store process did not ingest the spool in time"
        time.sleep(0.01)
    store = open_store(url)
    try:
        _, [[counted]] = store.query(
            "SELECT count() FROM llm_traces WHERE inserted_at >= fromUnixTimestamp64Milli({since:Int64})",
            {"since": int(since * 1000)},
        )
    finally:
        store.close()
    assert counted >= rows, f"{counted} rows in llm_traces, expected {rows}"


def _stop_store_process(url: str) -> None:
    """Stop the detached store process before its data directory is removed."""
    for pid in store_pids(url):
        os.kill(pid, signal.SIGTERM)
    while store_pids(url):
        time.sleep(0.05)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def breakdown(bodies: list[bytes], count: int) -> None:
    rows_writer = _ListWriter()
    exporter = LLMTraceExporter(writer=rows_writer, forward_to=None)
    cpu = dict.fromkeys(("parse", "convert", "rows", "encode", "insert"), 0.0)
    clock = time.thread_time
    for body in bodies:
        started = clock()
        request = decode.parse(body, decode.PROTOBUF)
        parsed = clock()
        spans = to_readable_spans(request).spans
        converted = clock()
        exporter.export(spans)
        cpu["parse"] += parsed - started
        cpu["convert"] += converted - parsed
        cpu["rows"] += clock() - converted
    writer_batch = 20_000  # the embedded writer's batch size
    encode(rows_writer.rows[:10])  # pyarrow's first conversion imports pandas (~0.6 s): not per span
    started = clock()
    # As the writer does: record batches of ENCODE_ROWS, one Arrow stream per insert.
    buffers = [
        write_stream([record_batch(chunk) for chunk in batches(batch, ENCODE_ROWS)])
        for batch in batches(rows_writer.rows, writer_batch)
    ]
    cpu["encode"] = clock() - started
    with tempfile.TemporaryDirectory() as tmp:
        url = f"chdb://{Path(tmp) / 'db'}"
        warm = open_writer(url)  # creates the schema and loads the engine, outside the timing
        warm.submit(rows_writer.rows[:10])
        assert warm.force_flush(60)
        warm.shutdown(60)
        store = open_store(url)
        started = _store_cpu_s(url)  # the store process inserts, on the engine's threads
        for buffer in buffers:
            store.insert_arrow(buffer)
        cpu["insert"] = _store_cpu_s(url) - started
        store.close()
        _stop_store_process(url)
    print(f"spans: {count}, requests of {BATCH}, CPU microseconds per span, load average {os.getloadavg()[0]:.1f}")
    for stage, seconds in cpu.items():
        print(f"  {stage:8s} {seconds / count * 1e6:7.1f}")
    total = sum(cpu.values())
    print(f"  {'total':8s} {total / count * 1e6:7.1f}  (-> {count / total:,.0f} spans per CPU-second)")


def _distinct_values(requests: list) -> None:
    values = {
        "gen_ai.usage.input_tokens": lambda i: {"int_value": 1000 + i * 7 % 5000},
        "gen_ai.usage.output_tokens": lambda i: {"int_value": 100 + i * 13 % 900},
        "gen_ai.usage.cache_read.input_tokens": lambda i: {"int_value": i * 3 % 1000},
        "otel_llm.cost.usd": lambda i: {"string_value": f"0.00{i:07d}"},
        "otel_llm.cost.details": lambda i: {"string_value": f'{{"input":"0.000{i}","output":"0.00{i}"}}'},
    }
    index = 0
    for request in requests:
        for span in request.resource_spans[0].scope_spans[0].spans:
            index += 1
            for kv in span.attributes:
                if kv.key in values:
                    for kind, value in values[kv.key](index).items():
                        setattr(kv.value, kind, value)


class _ListWriter:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def submit(self, rows: list[dict]) -> None:
        self.rows.extend(rows)

    def force_flush(self, timeout_s: float = 0) -> bool:
        return True

    def shutdown(self, timeout_s: float = 0) -> bool:
        return True


class _GcClock:
    """CPU time spent in the cyclic garbage collector (it runs in the thread that triggered it
    and holds the GIL: nothing else runs meanwhile)."""

    def __init__(self) -> None:
        self.seconds, self.collections, self._started = 0.0, 0, 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started
            self.collections += 1

    def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)


class _NullWriter:
    def submit(self, rows: list[dict]) -> None:
        pass

    def force_flush(self, timeout_s: float = 0) -> bool:
        return True

    def shutdown(self, timeout_s: float = 0) -> bool:
        return True


def _pickle(folder: Path, bodies: list[bytes]) -> str:
    path = folder / "warm.pickle"
    path.write_bytes(pickle.dumps(bodies))
    return str(path)


if __name__ == "__main__":
    main()
