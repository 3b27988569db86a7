"""instrument() / uninstrument(): what gets patched, idempotence, entry point, lazy import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import wrapt
from openai.lib.streaming.chat import ChatCompletionStream
from openai.lib.streaming.responses import AsyncResponseStream
from openai.resources.chat.completions.completions import AsyncCompletions, Completions
from openai.resources.embeddings import Embeddings
from openai.resources.responses.responses import Responses
from tests.openai_fixtures import MODEL, make_client, only_span, standin, user  # noqa: F401 - fixtures

from otel_llm import OpenAIInstrumentor

_WRAPPED = [
    (Completions, "create"),
    (AsyncCompletions, "create"),
    (Completions, "parse"),
    (Responses, "create"),
    (Responses, "parse"),
    (Embeddings, "create"),
    (ChatCompletionStream, "close"),
    (AsyncResponseStream, "close"),
]


def _is_wrapped(cls, name):
    return isinstance(cls.__dict__[name], wrapt.FunctionWrapper)


def test_uninstrument_restores_originals(standin, tracer_provider, span_exporter):
    originals = {(cls, name): cls.__dict__[name] for cls, name in _WRAPPED}
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        assert all(_is_wrapped(cls, name) for cls, name in _WRAPPED)
    finally:
        instrumentor.uninstrument()
    assert {(cls, name): cls.__dict__[name] for cls, name in _WRAPPED} == originals
    make_client(standin).chat.completions.create(model=MODEL, messages=user("hi"))
    assert span_exporter.get_finished_spans() == ()


def test_double_instrument_gives_one_span(standin, tracer_provider, span_exporter):
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        assert not isinstance(Completions.__dict__["create"].__wrapped__, wrapt.FunctionWrapper)
        make_client(standin).chat.completions.create(model=MODEL, messages=user("hi"))
    finally:
        OpenAIInstrumentor().uninstrument()
    only_span(span_exporter)
    OpenAIInstrumentor().uninstrument()  # a second uninstrument is harmless
    assert not _is_wrapped(Completions, "create")


def test_client_created_before_instrument_is_traced(standin, tracer_provider, span_exporter):
    early = make_client(standin)
    early.chat.completions  # resources already built  # noqa: B018
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        early.chat.completions.create(model=MODEL, messages=user("hi"))
        make_client(standin).embeddings.create(model="text-embedding-3-small", input="a")
    finally:
        OpenAIInstrumentor().uninstrument()
    assert [span.name for span in span_exporter.get_finished_spans()] == [
        f"chat {MODEL}",
        "embeddings text-embedding-3-small",
    ]


def test_entry_point_and_dependencies():
    (entry,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "openai"]
    assert entry.load() is OpenAIInstrumentor
    assert OpenAIInstrumentor().instrumentation_dependencies() == ("openai >= 3",)


def test_import_otel_llm_does_not_import_openai():
    code = "import sys, otel_llm; assert 'openai' not in sys.modules; otel_llm.OpenAIInstrumentor"
    subprocess.run([sys.executable, "-c", code], check=True)
