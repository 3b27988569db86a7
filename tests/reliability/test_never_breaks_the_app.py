"""Faults in every layer of otel-llm: the SDK call returns and raises exactly what it would without us.

Each case runs the same call twice through the real SDK against a stand-in, once uninstrumented
and once instrumented with the fault injected, and compares what the app observed: the returned
object (``model_dump()``, streams chunk by chunk) or the exception (type and message).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import math
import os
import re
import subprocess
import sys
import warnings

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from otel_llm import LLMTraceExporter, payloads
from otel_llm.anthropic import extract as anthropic_extract
from otel_llm.anthropic.streams import MessageEventsHandler
from otel_llm.instrumentation import call as call_module
from otel_llm.openai import extract as openai_extract
from otel_llm.openai import streams as openai_streams
from otel_llm.openai.streams import ChatStreamHandler
from otel_llm.standin.server import JSONResponse, SSEResponse
from otel_llm.storage import open_store, open_writer

from .conftest import (
    anthropic_client,
    aoutcome,
    instrumented,
    openai_client,
    outcome,
    sse,
)


class Injected(Exception):
    """A fault of ours; it must never reach the app."""


def boom(*args, **kwargs):
    raise Injected("otel-llm internal failure")


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-haiku-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi standin:text"}]}

# (name, sync call, async call), each given a client of its provider.
CALLS = {
    "openai": (
        lambda c: c.chat.completions.create(**CHAT),
        lambda c: c.chat.completions.create(**CHAT),
    ),
    "openai-stream": (
        lambda c: c.chat.completions.create(**CHAT, stream=True),
        lambda c: c.chat.completions.create(**CHAT, stream=True),
    ),
    "openai-error": (
        lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[error:429]"}]),
        lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[error:429]"}]),
    ),
    "anthropic": (lambda c: c.messages.create(**MESSAGES), lambda c: c.messages.create(**MESSAGES)),
    "anthropic-stream": (
        lambda c: c.messages.create(**MESSAGES, stream=True),
        lambda c: c.messages.create(**MESSAGES, stream=True),
    ),
}

# Faults in our own code, each at a different depth of the instrumentation.
FAULTS = {
    "request-extraction": [(openai_extract, "server_of"), (anthropic_extract, "request_attributes")],
    "response-extraction": [(openai_extract, "response_attributes"), (anthropic_extract, "message_outcome")],
    # ChatStreamHandler.on_chunk also decides whether to hide the usage-only chunk we asked for,
    # so it is not replaced wholesale; what it calls, and everything at the stream's end, is.
    "stream-handlers": [
        (openai_streams, "from_openai_chat"),
        (ChatStreamHandler, "outcome"),
        (MessageEventsHandler, "on_chunk"),
        (MessageEventsHandler, "outcome"),
    ],
    "context": [(call_module, "current_attributes")],
    "pricing": [(call_module, "price_call")],
    "payload-serialization": [(payloads, "to_json")],
}

VOLATILE = ("id", "created", "created_at", "_request_id")


def stable(value):
    """The stand-in numbers its responses; everything else must be identical."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    if isinstance(value, tuple) and value and value[0] == "raised":
        return value[:2] + (_without_request_ids(value[2]),)
    if isinstance(value, tuple):
        return tuple(stable(v) for v in value)
    return value


def _without_request_ids(message: str) -> str:
    return re.sub(r"(req|msg|chatcmpl)[-_][\w-]+", "<id>", message)


def client_for(name, servers, asynchronous):
    server = servers["anthropic" if name.startswith("anthropic") else "openai"]
    make = anthropic_client if name.startswith("anthropic") else openai_client
    return make(server, asynchronous=asynchronous)


@pytest.fixture
def servers(openai_server, anthropic_server, monkeypatch):
    # The Anthropic SDK's own tracing is irrelevant here and would only add spans.
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    return {"openai": openai_server, "anthropic": anthropic_server}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", CALLS)
def test_internal_faults_never_change_the_result(name, fault, servers, tracer_provider, span_exporter, monkeypatch):
    sync_call, async_call = CALLS[name]
    expected = outcome(lambda: sync_call(client_for(name, servers, False)))
    expected_async = aoutcome(lambda: async_call(client_for(name, servers, True)))
    for target, attribute in FAULTS[fault]:
        monkeypatch.setattr(target, attribute, boom)
    with instrumented(tracer_provider):
        got = outcome(lambda: sync_call(client_for(name, servers, False)))
        got_async = aoutcome(lambda: async_call(client_for(name, servers, True)))
    assert stable(got) == stable(expected)
    assert stable(got_async) == stable(expected_async)
    # Whatever failed inside, each call still ended its one span (or none, if it failed to start).
    assert len(span_exporter.get_finished_spans()) <= 2


def test_a_fault_is_logged_once_not_raised(servers, tracer_provider, span_exporter, monkeypatch, caplog):
    monkeypatch.setattr(openai_extract, "response_attributes", boom)
    client = openai_client(servers["openai"])
    with instrumented(tracer_provider):
        for _ in range(3):
            assert client.chat.completions.create(**CHAT).choices[0].message.content
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "otel-llm instrumentation failed" in r.message]
    assert len(warnings) <= 1  # once per place; zero if another test already reported this place
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 3 and all(s.attributes["gen_ai.request.model"] == "gpt-4o-mini" for s in spans)


# --- malformed provider responses -------------------------------------------------------------

NAN = math.nan
GOOD_CHOICE = {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
ODD_CHAT_BODIES = {
    "no-usage": {"id": "c1", "object": "chat.completion", "model": "m", "choices": [GOOD_CHOICE]},
    "usage-null": {"id": "c1", "model": "m", "choices": [GOOD_CHOICE], "usage": None},
    "usage-strings": {"id": "c1", "model": "m", "choices": [GOOD_CHOICE], "usage": {"prompt_tokens": "many", "completion_tokens": [1]}},
    "usage-nan": {"id": "c1", "model": "m", "choices": [GOOD_CHOICE], "usage": {"prompt_tokens": NAN, "completion_tokens": math.inf, "total_tokens": -5}},
    "usage-huge": {"id": "c1", "model": "m", "choices": [GOOD_CHOICE], "usage": {"prompt_tokens": 10**30, "completion_tokens": 2**64, "prompt_tokens_details": {"cached_tokens": 10**40}}},
    "usage-not-object": {"id": "c1", "model": "m", "choices": [GOOD_CHOICE], "usage": "lots"},
    "choices-not-list": {"id": "c1", "model": "m", "choices": {"0": GOOD_CHOICE}},
    "choices-of-junk": {"id": "c1", "model": "m", "choices": [None, 3, "x", {"message": None, "finish_reason": 7}]},
    "model-not-string": {"id": 5, "model": {"name": "m"}, "choices": [GOOD_CHOICE], "usage": {"prompt_tokens": 1}},
    "empty-object": {},
    "a-list": [1, 2, 3],
    "null": None,
    "a-string": "hello",
}
ODD_CHAT_STREAMS = {
    "no-usage-chunk": [{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}]}],
    "nan-usage": [{"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": NAN, "completion_tokens": "x"}}],
    "choices-not-list": [{"id": "c", "model": "m", "choices": "nope"}, {"id": "c", "choices": None, "usage": 3}],
    "junk-chunks": [[1], "text", None, {"choices": [{"delta": None, "index": "zero", "finish_reason": {}}]}],
    "not-json": ["{not json", "]]"],
    "no-done": None,  # a valid chunk, then the body ends without [DONE]
}
ODD_MESSAGES = {
    "no-usage": {"id": "m1", "type": "message", "role": "assistant", "model": "c", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn"},
    "usage-nan": {"id": "m1", "type": "message", "model": "c", "content": [], "usage": {"input_tokens": NAN, "output_tokens": "x", "cache_read_input_tokens": 10**30}},
    "content-not-list": {"id": "m1", "type": "message", "model": "c", "content": "ok", "usage": {"input_tokens": 1, "output_tokens": 1}},
    "content-junk": {"id": "m1", "type": "message", "model": 3, "content": [None, 1, {"type": None}], "usage": []},
    "a-list": [1, 2],
    "null": None,
}
ODD_MESSAGE_STREAMS = {
    "start-without-message": [("message_start", {"type": "message_start"}), ("message_stop", {"type": "message_stop"})],
    "nan-usage": [
        ("message_start", {"type": "message_start", "message": {"id": "m", "model": "c", "content": [], "usage": {"input_tokens": NAN}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": None}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 9, "delta": {"type": "input_json_delta", "partial_json": 3}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": 5}, "usage": {"output_tokens": "x"}}),
        ("message_stop", {"type": "message_stop"}),
    ],
    "junk-events": [("message_start", "[]"), ("content_block_delta", "{\"index\": null}"), ("message_stop", "{}")],
}


def _chat_stream(chunks, request):
    """Like the real API, the usage-only chunk (empty choices) comes only when asked for: it is the
    one chunk the instrumentor asks for on the caller's behalf and hides again."""
    options = (request.body or {}).get("stream_options") or {}
    if chunks and not options.get("include_usage"):
        chunks = [c for c in chunks if not (isinstance(c, dict) and c.get("usage") is not None and not c.get("choices"))]
    if chunks is None:
        return sse([{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}]}], done=False)
    return sse(chunks)


def _message_stream(events):
    return SSEResponse([(name, data if isinstance(data, str) else json.dumps(data)) for name, data in events])


def _compare(scripted, respond, call, client_factory, tracer_provider, span_exporter, calls):
    scripted.respond = respond
    with warnings.catch_warnings(record=True) as warned_without:
        warnings.simplefilter("always")
        expected = outcome(lambda: call(client_factory(scripted.server)))
        expected_async = aoutcome(lambda: call(client_factory(scripted.server, asynchronous=True)))
    with instrumented(tracer_provider), warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        got = outcome(lambda: call(client_factory(scripted.server)))
        got_async = aoutcome(lambda: call(client_factory(scripted.server, asynchronous=True)))
    # Not even a warning more on the app's stderr (ResourceWarnings: the test's own clients, GC timing).
    assert _warnings(warned) == _warnings(warned_without)
    assert _comparable(got) == _comparable(expected)
    assert _comparable(got_async) == _comparable(expected_async)
    gc.collect()  # streams abandoned by an exception end their span when collected
    assert len(span_exporter.get_finished_spans()) == calls


def _warnings(recorded):
    return [str(w.message) for w in recorded if not issubclass(w.category, ResourceWarning)]


def _comparable(result):
    # NaN != NaN: compare its text instead.
    return repr(result)


@pytest.mark.parametrize("case", ODD_CHAT_BODIES)
def test_malformed_chat_responses(case, scripted, tracer_provider, span_exporter):
    body = ODD_CHAT_BODIES[case]
    _compare(scripted, lambda r: JSONResponse(body), lambda c: c.chat.completions.create(**CHAT),
             openai_client, tracer_provider, span_exporter, calls=2)


@pytest.mark.parametrize("case", ODD_CHAT_STREAMS)
def test_malformed_chat_streams(case, scripted, tracer_provider, span_exporter):
    chunks = ODD_CHAT_STREAMS[case]
    _compare(scripted, lambda r: _chat_stream(chunks, r), lambda c: c.chat.completions.create(**CHAT, stream=True),
             openai_client, tracer_provider, span_exporter, calls=2)


@pytest.mark.parametrize("case", ODD_MESSAGES)
def test_malformed_anthropic_messages(case, scripted, tracer_provider, span_exporter, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    body = ODD_MESSAGES[case]
    _compare(scripted, lambda r: JSONResponse(body), lambda c: c.messages.create(**MESSAGES),
             anthropic_client, tracer_provider, span_exporter, calls=2)


@pytest.mark.parametrize("case", ODD_MESSAGE_STREAMS)
def test_malformed_anthropic_streams(case, scripted, tracer_provider, span_exporter, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    events = ODD_MESSAGE_STREAMS[case]
    _compare(scripted, lambda r: _message_stream(events), lambda c: c.messages.create(**MESSAGES, stream=True),
             anthropic_client, tracer_provider, span_exporter, calls=2)


# --- the export pipeline failing --------------------------------------------------------------


class ExplodingWriter:
    def submit(self, rows):
        raise Injected("store exploded")

    def force_flush(self, timeout_s=None):
        raise Injected("store exploded")

    def shutdown(self, timeout_s=None):
        raise Injected("store exploded")


class ExplodingForward:
    def export(self, spans):
        raise Injected("forward exploded")

    def force_flush(self, timeout_millis=None):
        raise Injected("forward exploded")

    def shutdown(self):
        raise Injected("forward exploded")


def _pipeline_case(servers, exporter, processor_cls):
    provider = TracerProvider()
    provider.add_span_processor(processor_cls(exporter))
    sync_call, _ = CALLS["openai"]
    stream_call, _ = CALLS["anthropic-stream"]
    expected = [outcome(lambda: sync_call(client_for("openai", servers, False))),
                outcome(lambda: stream_call(client_for("anthropic", servers, False)))]
    with instrumented(provider):
        got = [outcome(lambda: sync_call(client_for("openai", servers, False))),
               outcome(lambda: stream_call(client_for("anthropic", servers, False)))]
    assert stable(got) == stable(expected)
    # Flushing and shutting down the provider is the app's code path too: nothing may escape.
    assert provider.force_flush() in (True, False)
    provider.shutdown()


@pytest.mark.parametrize("processor_cls", [SimpleSpanProcessor, BatchSpanProcessor])
def test_exporter_writer_and_forwarder_raising(servers, processor_cls):
    exporter = LLMTraceExporter(writer=ExplodingWriter(), forward_to=ExplodingForward())
    _pipeline_case(servers, exporter, processor_cls)
    assert exporter.stats["submit_errors"] >= 1 and exporter.stats["forward_errors"] >= 1


def test_row_building_raising(servers, monkeypatch):
    from otel_llm.exporter import exporter as exporter_module

    monkeypatch.setattr(exporter_module, "build_row", boom)
    exporter = LLMTraceExporter(writer=ExplodingWriter(), forward_to=None)
    _pipeline_case(servers, exporter, SimpleSpanProcessor)
    assert exporter.stats["row_errors"] == 2


def test_full_disk_under_the_spool(servers, tmp_path, monkeypatch, caplog):
    """Store unreachable and the spool's disk full: rows are counted as dropped, the app is untouched.

    SimpleSpanProcessor puts export (and a queue-overflow spill to the spool) on the app's thread.
    """
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    writer = open_writer("http://127.0.0.1:9/default", max_queue_rows=1)
    monkeypatch.setattr(os, "fsync", full_disk)
    try:
        exporter = LLMTraceExporter(writer=writer, forward_to=None)
        _pipeline_case(servers, exporter, SimpleSpanProcessor)
    finally:
        monkeypatch.setattr(os, "fsync", real_fsync)
    # Two rows ended up nowhere, and the writer says so rather than pretending.
    assert writer.stats["dropped"] == 2 and writer.stats["written"] == 0
    assert "No space left on device" in caplog.text
    assert not [p for p in tmp_path.rglob("*.arrow")]


def test_unwritable_store_directory(servers, tmp_path, caplog):
    """The embedded store's directory cannot be created (its parent is a file): the app is
    untouched, and the log says once which path is unusable and what to set."""
    (tmp_path / "file").write_text("")
    exporter = LLMTraceExporter(f"chdb://{tmp_path}/file/db", forward_to=None)
    _pipeline_case(servers, exporter, SimpleSpanProcessor)
    assert exporter.writer.stats["dropped"] == 2 and exporter.writer.stats["written"] == 0
    unusable = [r.getMessage() for r in caplog.records if "cannot use the embedded store" in r.getMessage()]
    assert len(unusable) == 1
    assert f"{tmp_path}/file/db" in unusable[0] and "OTEL_LLM_CLICKHOUSE_URL" in unusable[0]
    assert "writer failed" not in caplog.text


# --- event loops -------------------------------------------------------------------------------


def test_stream_outliving_its_closed_event_loop(servers, tracer_provider, span_exporter):
    """An async stream never read, its loop closed, then collected: one span, and no more
    unraisable errors than the SDK produces on its own."""

    def abandon() -> list:
        unraisable = []
        previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
        try:
            async def start():
                client = openai_client(servers["openai"], asynchronous=True)
                return await client.chat.completions.create(**CHAT, stream=True)

            loop = asyncio.new_event_loop()
            stream = loop.run_until_complete(start())
            loop.close()
            del stream
            gc.collect()
        finally:
            sys.unraisablehook = previous
        return [type(u.exc_value) for u in unraisable]

    expected = abandon()
    with instrumented(tracer_provider):
        assert abandon() == expected
    [span] = span_exporter.get_finished_spans()
    assert span.attributes["gen_ai.request.stream"] is True


def test_async_client_reused_after_its_loop_closed(servers, tracer_provider, span_exporter):
    """Whatever the SDK does with a client whose loop is gone, it does the same instrumented."""

    def twice():
        client = openai_client(servers["openai"], asynchronous=True)
        first = asyncio.new_event_loop()
        first.run_until_complete(client.chat.completions.create(**CHAT))
        first.close()
        return aoutcome(lambda: client.chat.completions.create(**CHAT))

    expected = twice()
    with instrumented(tracer_provider):
        got = twice()
    assert stable(got) == stable(expected)
    assert len(span_exporter.get_finished_spans()) == 2


# --- process exit -------------------------------------------------------------------------------

_EXPORT_THEN_EXIT = """
import sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(shutdown_on_exit=sys.argv[2] == "provider-shuts-down")
# Imported after the provider: at exit our writer's hook runs before the provider's shutdown.
from otel_llm import LLMTraceExporter, attributes as attr

provider.add_span_processor(BatchSpanProcessor(LLMTraceExporter(sys.argv[1], forward_to=None)))
tracer = provider.get_tracer("exit")
for i in range(50):
    tracer.start_span("chat", attributes={attr.OPERATION_NAME: "chat", attr.RESPONSE_ID: str(i)}).end()
if sys.argv[2] != "provider-shuts-down":
    provider.force_flush()  # the rows reach the writer, which nobody shuts down
print("done")
"""


@pytest.mark.parametrize("how", ["provider-shuts-down", "nobody-shuts-down"])
def test_exiting_right_after_exporting(tmp_path, how):
    """The app exits within a second of its last rows, the writer still owning the embedded
    store: exit code 0 (the engine's teardown crashed on its open session), every row stored."""
    url = f"chdb://{tmp_path}/db"
    done = subprocess.run([sys.executable, "-c", _EXPORT_THEN_EXIT, url, how], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "done"), done.stderr[-2000:]
    store = open_store(url)
    try:
        _, rows = store.query("SELECT uniqExact(response_id) FROM llm_traces")
    finally:
        store.close()
    assert rows == [(50,)]
