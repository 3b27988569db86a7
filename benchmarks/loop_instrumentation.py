"""Our per-call work alone, in a loop: for callgrind instruction counts and profilers.

What one instrumented call adds, without the SDK's own work: the OpenAI wrapper's start and
result on an already parsed ``ChatCompletion``, and the Anthropic wrapper's start and observe on
an already parsed ``Message`` (request and response as in ``bench_instrumentation.py``, content
capture on, a ``BatchSpanProcessor`` with an exporter that only counts).  ``bare`` is the
yardstick: a span with 20 attributes on the same provider.

    python -m benchmarks.loop_instrumentation                        # CPU us per call, all three
    PYTHONHASHSEED=0 valgrind --tool=callgrind --toggle-collect=functools_reduce \\
        python -m benchmarks.loop_instrumentation openai --calls 150 --once

With ``--once`` the chosen loop runs twice inside ``functools.reduce`` (so callgrind can count only
there) and nothing is printed: instructions per call = collected / (2 * calls).  Instruction
counts miss what cache misses cost, which end to end is as much again; they are steady on a busy
machine, so they are for before/after comparisons of our own code, not for the targets.

``--in-place SCENARIO`` counts whole SDK calls instead (a scenario of ``bench_instrumentation.py``,
e.g. "openai chat", through its in-process transport): ``bare`` uninstrumented, ``ours`` with both
instrumentors installed before the loop, ``span`` with a bare 20-attribute span wrapped around
each call; the difference from ``bare`` is what each adds where it runs, between the SDK's own
work::

    for which in bare ours span; do PYTHONHASHSEED=0 valgrind --tool=callgrind \
        --toggle-collect=functools_reduce python -m benchmarks.loop_instrumentation $which \
        --in-place "openai chat" --calls 100 --once; done

One of the three per process: instrumentors patch the SDK's classes for everything in it.
``--no-processor`` uses a ``TracerProvider`` without any span processor instead (the span's cost
alone, without the processor's queue).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import sys
import time
from typing import Any, Callable

from benchmarks import bench_instrumentation as bench

BARE_ATTRIBUTES = {f"bench.attribute.{i}": f"value {i}" if i % 2 else i for i in range(20)}
IN_PLACE = ("bare", "ours", "span")


def counting_provider(processor: bool = True) -> Any:
    """A TracerProvider whose BatchSpanProcessor exports to an exporter that only says yes
    (without ``processor``: with no span processor at all)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    if not processor:
        return TracerProvider()

    class CountingExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(CountingExporter()))
    return provider


def loops(processor: bool = True) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
    import anthropic
    import openai
    from anthropic.types import Message
    from openai.types.chat import ChatCompletion
    from opentelemetry import trace

    from otel_llm.anthropic import patch as anthropic_patch
    from otel_llm.instrumentation.telemetry import Telemetry
    from otel_llm.instrumentation.wrapping import sync_wrapper
    from otel_llm.openai import patch as openai_patch

    provider = counting_provider(processor)
    telemetry = Telemetry.create("bench", tracer_provider=provider, capture_content=True)
    tracer = provider.get_tracer("bench")

    completion = ChatCompletion.model_validate(json.loads(bench._openai_bodies()[0]))
    completions = openai.OpenAI(api_key="sk-bench", base_url="https://api.openai.com/v1").chat.completions
    message = Message.model_validate(json.loads(bench._anthropic_bodies()[0]))
    anthropic_client = anthropic.Anthropic(api_key="sk-ant-bench")
    # The instrumentors' wrappers, called as wrapt calls them, around SDK methods that return
    # the parsed response at once.
    openai_wrapper = sync_wrapper(openai_patch._starter(telemetry, openai_patch.CHAT), "bench")
    anthropic_wrapper = sync_wrapper(anthropic_patch._starter(telemetry, sync=True), "bench")

    class Options:  # what SyncAPIClient.request receives for messages.create
        method = "post"
        url = "/v1/messages"
        json_data = {
            "model": bench.ANTHROPIC_MODEL,
            "system": bench.MESSAGES[0]["content"],
            "messages": bench.MESSAGES[1:],
            "max_tokens": 64,
        }

    def bare() -> None:
        tracer.start_span("chat bench", kind=trace.SpanKind.CLIENT, attributes=BARE_ATTRIBUTES).end()

    def openai_chat() -> None:
        kwargs = {"model": bench.OPENAI_MODEL, "messages": bench.MESSAGES, "temperature": 0.2, "max_tokens": 64}
        openai_wrapper(lambda **_: completion, completions, (), kwargs)

    def anthropic_messages() -> None:
        anthropic_wrapper(lambda *_, **__: message, anthropic_client, (Message, Options()), {})

    return {"bare": bare, "openai": openai_chat, "anthropic": anthropic_messages}, provider.shutdown


def in_place(scenario: str, which: str, processor: bool = True) -> Callable[[], Any]:
    from opentelemetry import trace

    import otel_llm

    os.environ.update(bench.WORKER_ENV)
    provider = counting_provider(processor)
    calls = bench._scenarios(("openai", "anthropic"))
    if scenario not in calls:
        raise SystemExit(f"unknown scenario {scenario!r}: choose from {', '.join(map(repr, calls))}")
    call = calls[scenario]
    if which == "ours":
        otel_llm.OpenAIInstrumentor().instrument(tracer_provider=provider)
        otel_llm.AnthropicInstrumentor().instrument(tracer_provider=provider)
    if which != "span":
        return call
    tracer = provider.get_tracer("bench")

    def span() -> None:  # as bench_instrumentation.py's "span us"
        span = tracer.start_span("chat bench", kind=trace.SpanKind.CLIENT, attributes=BARE_ATTRIBUTES)
        call()
        span.end()

    return span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", help="bare, openai and/or anthropic (default: all three)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per loop")
    parser.add_argument("--repeats", type=int, default=7, help="loops timed per function (median taken)")
    parser.add_argument("--once", action="store_true", help="run one loop twice inside functools.reduce, print nothing")
    parser.add_argument("--in-place", metavar="SCENARIO", help="whole SDK calls: bare, ours or span (see above)")
    parser.add_argument("--no-processor", action="store_true", help="a TracerProvider without span processors")
    args = parser.parse_args()
    if args.in_place:
        if len(args.which) != 1 or args.which[0] not in IN_PLACE:
            parser.error(f"--in-place takes one of {', '.join(IN_PLACE)} per process")
        functions = {args.which[0]: in_place(args.in_place, args.which[0], not args.no_processor)}
        shutdown: Callable[[], None] = lambda: None
    else:
        functions, shutdown = loops(not args.no_processor)
    unknown = set(args.which) - set(functions)
    if unknown:
        parser.error(f"unknown loop(s) {sorted(unknown)}: choose from {sorted(functions)}")
    chosen = {name: functions[name] for name in args.which or functions}
    for fn in chosen.values():
        for _ in range(30 if args.in_place else 300):  # warm-up: caches filled, price table loaded
            fn()
    gc.collect()
    gc.freeze()
    if args.once:
        (fn,) = chosen.values()

        def loop(*_: Any) -> None:
            for _ in range(args.calls):
                fn()

        functools.reduce(loop, [0, 0, 0])  # two calls of loop(): reduce folds three items
        shutdown()
        return
    times: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(args.repeats):
        for name, fn in chosen.items():
            gc.collect()
            started = time.process_time_ns()
            for _ in range(args.calls):
                fn()
            times[name].append((time.process_time_ns() - started) / args.calls / 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    bare = None if args.in_place else medians.get("bare")  # in place, "bare" is the SDK call alone
    for name, us in medians.items():
        print(f"{name:<10} {us:8.1f} us CPU per call" + (f"  ({us / bare:.2f} bare spans)" if bare else ""))
    shutdown()


if __name__ == "__main__":
    main()
