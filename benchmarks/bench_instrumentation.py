"""Time that LLM instrumentations add to OpenAI and Anthropic SDK calls, side by side.

Each instrumentation runs in its own subprocess (instrumentors must not stack).  Inside it, every
scenario is timed through the real SDK against an in-process ``httpx2.MockTransport`` (no sockets,
responses pre-encoded), so only SDK and instrumentation work is counted.  Repeats alternate
instrumented and uninstrumented batches (``instrument()`` / ``uninstrument()`` between them) and a
bare OpenTelemetry span with 20 attributes, all on the same tracer provider; the figures are
medians over repeats of those paired differences, so they are ratios within one run rather than
absolute numbers of a noisy machine.

    python benchmarks/bench_instrumentation.py                 # table
    python benchmarks/bench_instrumentation.py --json          # machine-readable
    python benchmarks/bench_instrumentation.py --only otel-llm --repeats 30
    python benchmarks/bench_instrumentation.py --rivals-python /path/to/venv/bin/python

See benchmarks/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

STREAM_CHUNKS = 200
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-5"
MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Name three prime numbers."},
]

# Content capture on for every instrumentation, each by its own switch; the SDK's own Anthropic
# tracing off, so the uninstrumented baseline is the bare SDK.
WORKER_ENV = {
    "OTEL_LLM_CAPTURE_CONTENT": "true",
    "TRACELOOP_TRACE_CONTENT": "true",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    "ANTHROPIC_OPEN_TELEMETRY": "false",
    "TRACELOOP_TELEMETRY": "false",
}
# The official instrumentation puts content on spans only on the latest (opt-in) conventions.
WORKER_ENV_OF = {
    "otel-openai-v2": {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
    },
}

# name -> (scenarios it covers, [(module, instrumentor class)]); "+exporter" adds our exporter.
INSTRUMENTATIONS: dict[str, tuple[tuple[str, ...], list[tuple[str, str]]]] = {
    "otel-llm": (
        ("openai", "anthropic"),
        [("otel_llm", "OpenAIInstrumentor"), ("otel_llm", "AnthropicInstrumentor")],
    ),
    "otel-llm+exporter": (
        ("openai", "anthropic"),
        [("otel_llm", "OpenAIInstrumentor"), ("otel_llm", "AnthropicInstrumentor")],
    ),
    "openllmetry": (
        ("openai", "anthropic"),
        [
            ("opentelemetry.instrumentation.openai", "OpenAIInstrumentor"),
            ("opentelemetry.instrumentation.anthropic", "AnthropicInstrumentor"),
        ],
    ),
    "openinference": (("openai",), [("openinference.instrumentation.openai", "OpenAIInstrumentor")]),
    "otel-openai-v2": (("openai",), [("opentelemetry.instrumentation.openai_v2", "OpenAIInstrumentor")]),
}
OURS = ("otel-llm", "otel-llm+exporter")

# --- canned provider responses -----------------------------------------------------------------


def _sse(events: list[tuple[str | None, dict[str, Any] | str]]) -> bytes:
    lines = []
    for event, data in events:
        if event:
            lines.append(f"event: {event}")
        lines.append("data: " + (data if isinstance(data, str) else json.dumps(data)))
        lines.append("")
    return ("\n".join(lines) + "\n").encode()


def _openai_bodies() -> tuple[bytes, bytes, bytes]:
    # Shaped like the real API's usage, detail objects included.
    usage = {
        "prompt_tokens": 25,
        "completion_tokens": STREAM_CHUNKS,
        "total_tokens": 25 + STREAM_CHUNKS,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    head = {"id": "chatcmpl-bench", "created": 1700000000, "model": f"{OPENAI_MODEL}-2024-07-18"}
    completion = {
        **head,
        "object": "chat.completion",
        "system_fingerprint": "fp_bench",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "2, 3, 5."}, "finish_reason": "stop"}
        ],
        "usage": {**usage, "completion_tokens": 5, "total_tokens": 30},
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return None, {**head, "object": "chat.completion.chunk", "choices": [choice]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": f"tok{i} "}) for i in range(STREAM_CHUNKS)]
    chunks.append(chunk({}, "stop"))
    usage_chunk = (None, {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    stream = _sse(chunks + [(None, "[DONE]")])
    # Only a request that asked for usage (stream_options.include_usage) gets the usage chunk.
    stream_with_usage = _sse(chunks + [usage_chunk, (None, "[DONE]")])
    return json.dumps(completion).encode(), stream, stream_with_usage


def _anthropic_bodies() -> tuple[bytes, bytes]:
    usage = {"input_tokens": 25, "output_tokens": 5, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": [{"type": "text", "text": "2, 3, 5."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str | None, dict[str, Any] | str]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"tok{i} "}})
        for i in range(STREAM_CHUNKS)
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": STREAM_CHUNKS}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return json.dumps(message).encode(), _sse(events)


# --- worker: one instrumentation, all its scenarios ----------------------------------------------


class _NullWriter:
    """Storage writer that drops rows: the exporter variant times row building, not ClickHouse."""

    def submit(self, rows: Any) -> bool:
        return True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        pass


def _scenarios(kinds: tuple[str, ...]) -> dict[str, Callable[[], Any]]:
    import httpx2

    calls: dict[str, Callable[[], Any]] = {}
    if "openai" in kinds:
        import openai

        completion, stream, stream_with_usage = _openai_bodies()
        json_headers = {"content-type": "application/json"}
        sse_headers = {"content-type": "text/event-stream"}

        def openai_handler(request: httpx2.Request) -> httpx2.Response:
            if b'"stream":true' not in request.content:
                return httpx2.Response(200, content=completion, headers=json_headers)
            body = stream_with_usage if b'"include_usage":true' in request.content else stream
            return httpx2.Response(200, content=body, headers=sse_headers)

        client = openai.OpenAI(
            api_key="sk-bench",
            base_url="https://api.openai.com/v1",
            http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(openai_handler)),
            max_retries=0,
        )
        completions = client.chat.completions

        # The method is looked up on every call, as apps do: instrumentors patch the class.
        def openai_chat() -> Any:
            return completions.create(model=OPENAI_MODEL, messages=MESSAGES, temperature=0.2, max_tokens=64)

        def openai_stream() -> Any:
            for _ in completions.create(
                model=OPENAI_MODEL, messages=MESSAGES, temperature=0.2, max_tokens=64, stream=True
            ):
                pass

        # Like for like: a caller who asks for usage gets the usage chunk with or without us, so
        # this leaves out the one chunk that "openai stream" pays the SDK to parse on our account.
        def openai_stream_with_usage() -> Any:
            for _ in completions.create(
                model=OPENAI_MODEL,
                messages=MESSAGES,
                temperature=0.2,
                max_tokens=64,
                stream=True,
                stream_options={"include_usage": True},
            ):
                pass

        calls["openai chat"] = openai_chat
        calls["openai stream"] = openai_stream
        calls["openai stream+usage"] = openai_stream_with_usage
    if "anthropic" in kinds:
        import anthropic

        message, events = _anthropic_bodies()

        def anthropic_handler(request: httpx2.Request) -> httpx2.Response:
            if b'"stream":true' in request.content:
                return httpx2.Response(200, content=events, headers={"content-type": "text/event-stream"})
            return httpx2.Response(200, content=message, headers={"content-type": "application/json"})

        aclient = anthropic.Anthropic(
            api_key="sk-ant-bench",
            http_client=anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(anthropic_handler)),
            max_retries=0,
        )
        resource = aclient.messages
        system, user = MESSAGES[0]["content"], MESSAGES[1:]

        def anthropic_messages() -> Any:
            return resource.create(model=ANTHROPIC_MODEL, system=system, messages=user, max_tokens=64)

        def anthropic_stream() -> Any:
            for _ in resource.create(model=ANTHROPIC_MODEL, system=system, messages=user, max_tokens=64, stream=True):
                pass

        calls["anthropic messages"] = anthropic_messages
        calls["anthropic stream"] = anthropic_stream
    return calls


# wall: time.perf_counter_ns.  cpu: CPU time of the whole process (every thread, so the span
# processor's worker counts too), which other programs on a busy machine cannot inflate.
CLOCKS = {"wall": time.perf_counter_ns, "cpu": time.process_time_ns}


def _per_call_ns(fn: Callable[[], Any], n: int, clock: Callable[[], int]) -> float:
    gc.collect()
    started = clock()
    for _ in range(n):
        fn()
    return (clock() - started) / n


def _sse_data(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in body.decode().splitlines() if line.startswith("data: {")]


class _ReplayedStream:
    """Just enough of an SDK stream for our proxy: iteration and close."""

    def __init__(self, items: list[Any]) -> None:
        self._iterator = iter(items)

    def __iter__(self) -> _ReplayedStream:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def close(self) -> None:
        pass


def _replay_per_chunk(provider: Any, repeats: int, clock: Callable[[], int]) -> dict[str, float]:
    """Our stream proxy and handlers alone, per chunk: SDK chunk objects replayed through them.

    End to end, the SDK parses each chunk at about a hundred times our cost, and its noise hides
    ours; this compares iterating the same parsed chunks bare and through our proxy, with the
    span's start and end (and the content assembled at the end) spread over the chunks.  The
    chunks live throughout, so what keeping them alive costs (garbage collections, memory that is
    no longer reused while it is hot in the CPU's caches) only shows end to end.
    """
    import pydantic
    from anthropic.types import RawMessageStreamEvent
    from openai.types.chat import ChatCompletionChunk

    from otel_llm.anthropic.extract import PAYLOAD_SPEC
    from otel_llm.anthropic.streams import MessageEventsHandler
    from otel_llm.instrumentation.call import LLMCall
    from otel_llm.instrumentation.streams import SyncStreamProxy
    from otel_llm.instrumentation.telemetry import Telemetry
    from otel_llm.openai.patch import CHAT
    from otel_llm.openai.streams import ChatStreamHandler

    telemetry = Telemetry.create("bench", tracer_provider=provider, capture_content=True)
    event_adapter = pydantic.TypeAdapter(RawMessageStreamEvent)
    cases = {
        "openai stream": (
            [ChatCompletionChunk.model_validate(data) for data in _sse_data(_openai_bodies()[2])],
            ("openai", OPENAI_MODEL, CHAT.spec),
            lambda: ChatStreamHandler(hide_usage_chunk=True, assemble=True),
        ),
        "anthropic stream": (
            [event_adapter.validate_python(data) for data in _sse_data(_anthropic_bodies()[1])],
            ("anthropic", ANTHROPIC_MODEL, PAYLOAD_SPEC),
            lambda: MessageEventsHandler(capture_content=True),
        ),
    }
    per_chunk = {}
    for scenario, (items, (provider_name, model, spec), handler) in cases.items():

        def bare() -> None:
            for _ in _ReplayedStream(items):
                pass

        def traced() -> None:
            call = LLMCall(
                telemetry,
                operation="chat",
                provider=provider_name,
                request_model=model,
                request={"model": model, "messages": MESSAGES, "stream": True},
                spec=spec,
                stream=True,
            )
            for _ in SyncStreamProxy(_ReplayedStream(items), call, handler()):
                pass

        added = statistics.median(_per_call_ns(traced, 20, clock) - _per_call_ns(bare, 20, clock) for _ in range(repeats))
        per_chunk[scenario] = added / 1000 / STREAM_CHUNKS
    return per_chunk


def worker(name: str, repeats: int, calls_per_batch: int, clock: Callable[[], int]) -> dict[str, Any]:
    import importlib

    for key, value in WORKER_ENV.items():
        os.environ.setdefault(key, value)
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class CountingExporter(SpanExporter):
        """The cheapest exporter that still lets us check how many spans a call made."""

        def __init__(self) -> None:
            self.count = 0

        def export(self, spans: Any) -> SpanExportResult:
            self.count += len(spans)
            return SpanExportResult.SUCCESS

    kinds, targets = INSTRUMENTATIONS[name]
    result: dict[str, Any] = {"name": name, "scenarios": {}}
    counter = CountingExporter()
    exporter: SpanExporter = counter
    if name.endswith("+exporter"):
        try:
            from otel_llm.exporter import LLMTraceExporter
        except ImportError:
            return {**result, "status": "skipped: otel_llm.exporter.LLMTraceExporter not in this tree"}
        exporter = LLMTraceExporter(writer=_NullWriter(), forward_to=counter)
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    try:
        instrumentors = [getattr(importlib.import_module(module), cls)() for module, cls in targets]
    except Exception as error:  # noqa: BLE001 - not installed, or broken against these SDKs
        return {**result, "status": f"skipped: {type(error).__name__}: {error}"}
    calls = _scenarios(kinds)

    def instrument(on: bool) -> None:
        for instrumentor in instrumentors:
            if on:
                instrumentor.instrument(tracer_provider=provider, capture_content=True)
            else:
                instrumentor.uninstrument()

    def timed(fn: Callable[[], Any], n: int) -> float:
        # Spans of earlier windows are exported before this one starts: a window of 200 calls
        # never fills the processor's 512-span batch, so no export lands inside a timing. (Left
        # to chance, the exporter's work fell into some windows and not others.)
        processor.force_flush()
        return _per_call_ns(fn, n, clock)

    def spans_of(fn: Callable[[], Any]) -> int:
        processor.force_flush()
        before = counter.count
        fn()
        processor.force_flush()
        return counter.count - before

    tracer = provider.get_tracer("bench")
    attributes = {f"bench.attribute.{i}": f"value {i}" if i % 2 else i for i in range(20)}

    def bare_span() -> None:
        tracer.start_span("chat bench", kind=trace.SpanKind.CLIENT, attributes=attributes).end()

    def in_bare_span(fn: Callable[[], Any]) -> Callable[[], Any]:
        """``fn`` inside a bare span: the least any instrumentation of it could add."""

        def spanned() -> None:
            span = tracer.start_span("chat bench", kind=trace.SpanKind.CLIENT, attributes=attributes)
            fn()
            span.end()

        return spanned

    batch = {s: max(calls_per_batch // (STREAM_CHUNKS // 4) if "stream" in s else calls_per_batch, 5) for s in calls}
    # A baseline from before any instrument(), for instrumentors whose uninstrument() does not
    # undo what instrument() did: then the only bare SDK left is the one measured first.
    for fn in calls.values():
        fn()  # warm-up
    # The SDKs' and OTel's module-level objects never die: keep them out of every collection, so
    # the collector's work is the calls' own garbage (and gc.collect() between batches is quick).
    gc.freeze()
    # Also the yardstick in place: a bare span around the call costs more than the same span in a
    # tight loop, because between SDK calls its code and data are no longer in the CPU's caches;
    # an instrumentation pays that too, so it is compared with this.
    before: dict[str, list[float]] = {s: [] for s in calls}
    spanned: dict[str, list[float]] = {s: [] for s in calls}
    for _ in range(max(5, repeats // 2)):
        for scenario, fn in calls.items():
            before[scenario].append(timed(fn, batch[scenario]))
            spanned[scenario].append(timed(in_bare_span(fn), batch[scenario]))

    # Sanity first: an instrumentor that fails on these SDKs is reported, not timed as "free".
    try:
        instrument(True)
    except Exception as error:  # noqa: BLE001
        return {**result, "status": f"instrument() failed: {type(error).__name__}: {error}"}
    usable = {}
    for scenario, fn in calls.items():
        try:
            traced = spans_of(fn)
        except Exception as error:  # noqa: BLE001
            result["scenarios"][scenario] = {"status": f"call failed: {type(error).__name__}: {error}"[:300]}
            continue
        if traced == 0:
            result["scenarios"][scenario] = {"status": "no span: does not instrument this call"}
            continue
        usable[scenario] = fn
        result["scenarios"][scenario] = {"spans_per_call": traced}
    instrument(False)
    # instrument() after an uninstrument() that left wrappers in place would stack a second layer.
    toggles = all(spans_of(fn) == 0 for fn in usable.values())
    if not toggles:
        instrument(True)

    span_batch = calls_per_batch * 10
    samples: dict[str, dict[str, list[float]]] = {s: {"bare": [], "traced": []} for s in usable}
    # With our exporter: its work for a window's spans, on the processor's thread, per call.
    export_samples: dict[str, list[float]] = {s: [] for s in usable}
    span_samples: list[float] = []
    for repeat in range(repeats):
        # Alternate which goes first so a drifting machine biases neither side.
        for on in ((True, False) if repeat % 2 else (False, True)) if toggles else (True,):
            if toggles:
                instrument(on)
            for scenario, fn in usable.items():
                samples[scenario]["traced" if on else "bare"].append(timed(fn, batch[scenario]))
                if on and exporter is not counter:
                    started = clock()
                    processor.force_flush()
                    export_samples[scenario].append((clock() - started) / batch[scenario])
        span_samples.append(timed(bare_span, span_batch))
    if toggles:
        instrument(False)
    else:
        for scenario, fn in usable.items():  # still one span per call: nothing stacked meanwhile
            result["scenarios"][scenario]["spans_per_call_at_end"] = spans_of(fn)

    span_ns = statistics.median(span_samples)
    result["bare_span_us"] = span_ns / 1000
    for scenario, times in samples.items():
        if toggles:
            added = statistics.median(t - b for t, b in zip(times["traced"], times["bare"]))
        else:
            times["bare"] = before[scenario]
            added = statistics.median(times["traced"]) - statistics.median(times["bare"])
            result["scenarios"][scenario]["note"] = "uninstrument() leaves calls traced: baseline taken before instrument()"
        span_in_call = statistics.median(t - b for t, b in zip(spanned[scenario], before[scenario]))
        figures = {
            "sdk_us": statistics.median(times["bare"]) / 1000,
            "instrumented_us": statistics.median(times["traced"]) / 1000,
            "added_us": added / 1000,
            "bare_span_in_call_us": span_in_call / 1000,
            "added_vs_bare_span": added / span_ns,
            "added_vs_bare_span_in_call": added / span_in_call,
        }
        if "stream" in scenario:
            figures["added_us_per_chunk"] = added / 1000 / STREAM_CHUNKS
        if export_samples[scenario]:
            figures["export_us"] = statistics.median(export_samples[scenario]) / 1000
        result["scenarios"][scenario].update(figures)
    if name in OURS:
        result["handler_only_us_per_chunk"] = _replay_per_chunk(provider, repeats, clock)
    provider.shutdown()
    result["status"] = "ok"
    return result


# --- orchestrator ---------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    import openai
    import anthropic

    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "openai": openai.__version__,
        "anthropic": anthropic.__version__,
    }


def _run_worker(python: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [python, __file__, "--worker", name, "--repeats", str(args.repeats), "--calls", str(args.calls)]
    command += ["--clock", args.clock]
    env = {**os.environ, **WORKER_ENV, **WORKER_ENV_OF.get(name, {})}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"name": name, "status": f"worker failed: {tail}", "scenarios": {}}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare(results: list[dict[str, Any]]) -> None:
    """How many times more time each rival adds than we do, per scenario (both normalized to their
    own run's bare span in a loop, which cancels a machine that got faster or slower between
    subprocesses; the span around a call is too noisy a divisor for this)."""
    ours = next((r for r in results if r["name"] == "otel-llm" and r.get("status") == "ok"), None)
    if ours is None:
        return
    for result in results:
        if result["name"] in OURS:
            continue
        for scenario, figures in result["scenarios"].items():
            mine = ours["scenarios"].get(scenario, {}).get("added_vs_bare_span")
            theirs = figures.get("added_vs_bare_span")
            # Ours at or below zero is ours lost in the SDK's noise: no meaningful ratio then.
            if mine is not None and mine > 0 and theirs is not None:
                figures["x_ours"] = theirs / mine


def _table(results: list[dict[str, Any]], machine: dict[str, Any], clock: str) -> str:
    def row(name: str, scenario: str, *cells: str) -> str:
        widths = (8, 9, 9, 9, 8, 10, 8, 7)
        return f"{name:<18} {scenario:<20}" + "".join(f" {cell:>{width}}" for cell, width in zip(cells, widths))

    rows = [
        f"machine: {machine['cpus']} CPUs, {machine['cpu']}; Python {machine['python']}, "
        f"openai {machine['openai']}, anthropic {machine['anthropic']}; clock: {clock}",
        "",
        row("instrumentation", "scenario", "SDK us", "traced us", "added us", "span us", "/span", "/loop span", "us/chunk", "x ours"),
    ]
    for result in results:
        name = result["name"]
        if result.get("status") != "ok":
            rows.append(f"{name:<18} {result.get('status')}")
        else:
            rows.append(row(name, "bare span in a loop", "", "", "", f"{result['bare_span_us']:.1f}"))
        for scenario, per_chunk in result.get("handler_only_us_per_chunk", {}).items():
            rows.append(row(name, scenario.replace("stream", "replay"), *[""] * 6, f"{per_chunk:.2f}"))
        for scenario, f in result["scenarios"].items():
            if "added_us" not in f:
                rows.append(f"{name:<18} {scenario:<20} {f.get('status', '')}")
                continue
            note = f"  ({f['spans_per_call']} spans/call)" if f.get("spans_per_call", 1) != 1 else ""
            note += f"  ({f['note']})" if "note" in f else ""
            note += f"  (+{f['export_us']:.1f} us a call exporting)" if "export_us" in f else ""
            cells = [
                f"{f['sdk_us']:.1f}",
                f"{f['instrumented_us']:.1f}",
                f"{f['added_us']:.1f}",
                f"{f['bare_span_in_call_us']:.1f}",
                f"{f['added_vs_bare_span_in_call']:.2f}x",
                f"{f['added_vs_bare_span']:.2f}x",
                f"{f['added_us_per_chunk']:.2f}" if "added_us_per_chunk" in f else "",
                f"{f['x_ours']:.1f}x" if "x_ours" in f else "",
            ]
            rows.append(row(name, scenario, *cells) + note)
    rows += [
        "",
        "span us: a bare span (20 attributes) around the same call; /span: added time in those spans;",
        "/loop span: in bare spans timed in a tight loop; replay: our stream proxy and handler alone (README).",
        "exporting: LLMTraceExporter's work for the call's span (row, payload JSON), on the processor's thread.",
        "targets: otel-llm non-stream added <= 1.5 bare spans; streams <= 3 us/chunk; rivals add >= 8x ours.",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats per scenario (median taken)")
    parser.add_argument("--calls", type=int, default=200, help="non-stream calls per batch (streams: fewer)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall time or process CPU time")
    parser.add_argument("--only", action="append", choices=sorted(INSTRUMENTATIONS), help="run only these")
    parser.add_argument(
        "--rivals-python",
        default=sys.executable,
        help="interpreter with the other instrumentations installed (default: this one)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeats, args.calls, CLOCKS[args.clock])))
        return
    results = []
    for name in args.only or list(INSTRUMENTATIONS):
        python = sys.executable if name in OURS else args.rivals_python
        results.append(_run_worker(python, name, args))
        if not args.json:
            print(f"  done: {name}", file=sys.stderr)
    _compare(results)
    machine = _machine()
    if args.json:
        print(json.dumps({"machine": machine, "clock": args.clock, "results": results}, indent=2))
    else:
        print(_table(results, machine, args.clock))


if __name__ == "__main__":
    main()
