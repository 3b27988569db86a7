"""otel-llm in an app that already has OpenTelemetry: other exporters, propagators, limits, redactors.

Real SDKs against the loopback stand-ins, real propagators (W3C trace context + baggage), real
storage: the embedded chDB for one LLMTraceExporter, ClickHouse over HTTP for a second one.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any, Iterator

import anthropic
import openai
import pytest
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_llm import AnthropicInstrumentor, LLMTraceExporter, OpenAIInstrumentor, llm_context, redaction
from otel_llm import attributes as attr
from otel_llm.standin.anthropic import anthropic_standin
from otel_llm.standin.openai import openai_standin
from otel_llm.storage import open_store

LIMIT = 64  # the app's attribute length limit, far below the payloads
PROMPT = "Tell me about the weather in Lisbon, please, in some detail. " * 4  # > LIMIT
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"
CONTEXT_KEYS = (attr.BILLING_CUSTOMER_ID, attr.USER_ID, attr.BILLING_PLAN_TYPE)


@pytest.fixture(autouse=True)
def w3c_propagators() -> Iterator[None]:
    saved = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
    yield
    propagate.set_global_textmap(saved)


@pytest.fixture(scope="module")
def openai_server() -> Iterator[Any]:
    with openai_standin() as server:
        yield server


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[Any]:
    with anthropic_standin() as server:
        yield server


def _inject(request: Any) -> None:
    """What any HTTP client instrumentation does: the current context into the request headers."""
    propagate.inject(request.headers)


async def _inject_async(request: Any) -> None:
    _inject(request)


class App:
    """An app with its own exporter and limits, our two exporters, both instrumentors."""

    def __init__(self, chdb_url: str, remote_url: str) -> None:
        self.provider = TracerProvider(span_limits=SpanLimits(max_attribute_length=LIMIT))
        self.others = InMemorySpanExporter()  # the app's own (say Jaeger), before ours
        self.provider.add_span_processor(SimpleSpanProcessor(self.others))
        self.forwarded = InMemorySpanExporter()
        self.urls = (chdb_url, remote_url)
        self.exporters = [
            LLMTraceExporter(chdb_url, forward_to=self.forwarded),
            LLMTraceExporter(remote_url, forward_to=None),
        ]
        for exporter in self.exporters:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
        for instrumentor in self.instrumentors:
            instrumentor.instrument(tracer_provider=self.provider, capture_content=True)

    def close(self) -> None:
        """Instrumentors off, every span exported and stored (idempotent)."""
        for instrumentor in self.instrumentors:
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
        self.provider.shutdown()

    def rows(self, url: str) -> list[dict[str, Any]]:
        self.close()
        store = open_store(url)
        try:
            columns, rows = store.query("SELECT * FROM llm_traces FINAL ORDER BY timestamp")
        finally:
            store.close()
        return [dict(zip(columns, row)) for row in rows]

    def llm_spans(self) -> list[ReadableSpan]:
        return [s for s in self.others.get_finished_spans() if attr.OPERATION_NAME in (s.attributes or {})]


@pytest.fixture
def app(chdb_url: str, clickhouse_http: Any) -> Iterator[App]:
    the_app = App(chdb_url, clickhouse_http.url)
    yield the_app
    the_app.close()


def openai_client(server: Any) -> openai.OpenAI:
    http = openai.DefaultHttpxClient(event_hooks={"request": [_inject]})
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-test", max_retries=0, http_client=http)


def openai_async_client(server: Any) -> openai.AsyncOpenAI:
    http = openai.DefaultAsyncHttpxClient(event_hooks={"request": [_inject_async]})
    return openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key="sk-test", max_retries=0, http_client=http)


def anthropic_client(server: Any) -> anthropic.Anthropic:
    # The SDK's own propagation (on by default) writes the headers: no HTTP instrumentation needed.
    return anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-test", max_retries=0)


def _traceparent_ids(headers: dict[str, str]) -> tuple[str, str]:
    _, trace_id, span_id, _ = headers["traceparent"].split("-")
    return trace_id, span_id


def _ids(span: ReadableSpan) -> tuple[str, str]:
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def _headers(server: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in server.requests[-1].headers.items()}


# --- 1 and 3: what goes on the wire ------------------------------------------------------------


def _openai_calls(client: openai.OpenAI, server: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": PROMPT}]
    create = {"model": OPENAI_MODEL, "messages": messages}

    def stream() -> None:
        for _ in client.chat.completions.create(**create, stream=True):
            pass

    def raw() -> None:
        client.chat.completions.with_raw_response.create(**create).parse()

    def streaming_response() -> None:
        with client.chat.completions.with_streaming_response.create(**create) as response:
            response.read()

    def responses() -> None:
        client.responses.create(model=OPENAI_MODEL, input=PROMPT)

    async def async_create() -> None:
        async with openai_async_client(server) as aclient:  # one per event loop
            await aclient.chat.completions.create(**create)

    async def async_stream() -> None:
        async with openai_async_client(server) as aclient:
            async for _ in await aclient.chat.completions.create(**create, stream=True):
                pass

    return {
        "sync": lambda: client.chat.completions.create(**create),
        "stream": stream,
        "raw": raw,
        "streaming-response": streaming_response,
        "responses": responses,
        "async": lambda: asyncio.run(async_create()),
        "async-stream": lambda: asyncio.run(async_stream()),
    }


@pytest.mark.parametrize("propagation", ["", "send"])
def test_openai_requests_carry_the_llm_span_and_never_the_context(app, openai_server, monkeypatch, propagation):
    monkeypatch.setenv("OTEL_LLM_CONTEXT_PROPAGATION", propagation)
    for shape, call in _openai_calls(openai_client(openai_server), openai_server).items():
        app.others.clear()
        with llm_context(customer_id="acme", user_id="u-42", plan_type="pro"):
            outgoing: dict[str, str] = {}
            propagate.inject(outgoing)  # any other request the app makes meanwhile
            call()
        headers = _headers(openai_server)
        (span,) = app.llm_spans()
        assert _traceparent_ids(headers) == _ids(span), shape  # HTTP-level context hangs off the LLM span
        assert "otel_llm" not in headers.get("baggage", ""), shape
        assert span.attributes[attr.BILLING_CUSTOMER_ID] == "acme", shape
        # Elsewhere: only when propagation is asked for.
        assert ("otel_llm.billing.customer_id=acme" in outgoing.get("baggage", "")) is (propagation == "send")


@pytest.mark.parametrize("propagation", ["", "send"])
def test_anthropic_sdk_propagation_sends_the_llm_span_and_never_the_context(app, anthropic_server, monkeypatch, propagation):
    monkeypatch.setenv("OTEL_LLM_CONTEXT_PROPAGATION", propagation)
    client = anthropic_client(anthropic_server)
    body = {"model": ANTHROPIC_MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}
    for shape in ("create", "stream", "raw"):
        app.others.clear()
        with llm_context(customer_id="acme", user_id="u-42"):
            if shape == "create":
                client.messages.create(**body)
            elif shape == "stream":
                with client.messages.stream(**body) as events:
                    events.until_done()
            else:
                client.messages.with_raw_response.create(**body).parse()
        headers = _headers(anthropic_server)
        (span,) = app.llm_spans()
        assert _traceparent_ids(headers) == _ids(span), shape
        assert "otel_llm" not in headers.get("baggage", ""), shape
        assert span.attributes[attr.USER_ID] == "u-42"


def test_incoming_baggage_is_untrusted_unless_accepted(app, openai_server, monkeypatch):
    client = openai_client(openai_server)
    incoming = {"baggage": "otel_llm.billing.customer_id=victim,otel_llm.billing.plan_type=enterprise,tenant=t1"}
    token = otel_context.attach(propagate.extract(incoming))  # what server instrumentation does
    try:
        monkeypatch.delenv("OTEL_LLM_CONTEXT_PROPAGATION", raising=False)
        client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}])
        untrusted = _headers(openai_server).get("baggage", "")
        monkeypatch.setenv("OTEL_LLM_CONTEXT_PROPAGATION", "accept")
        client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}])
        trusted = _headers(openai_server).get("baggage", "")
    finally:
        otel_context.detach(token)
    first, second = app.llm_spans()
    assert attr.BILLING_CUSTOMER_ID not in first.attributes
    assert (second.attributes[attr.BILLING_CUSTOMER_ID], second.attributes[attr.BILLING_PLAN_TYPE]) == (
        "victim",
        "enterprise",
    )
    # The app's own baggage still travels; the billing entries never go to the provider.
    assert untrusted == trusted == "tenant=t1"
    rows = app.rows(app.urls[0])
    assert [row["customer_id"] for row in rows] == ["", "victim"]


# --- 2 and 4: content for every exporter, redacted once ----------------------------------------


def test_every_exporter_sees_the_content_and_every_row_is_whole(app, openai_server, anthropic_server):
    openai_client(openai_server).chat.completions.create(
        model=OPENAI_MODEL, messages=[{"role": "user", "content": PROMPT}]
    )
    anthropic_client(anthropic_server).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=64, system="Be brief.", messages=[{"role": "user", "content": PROMPT}]
    )
    spans = app.llm_spans()
    assert len(spans) == 2
    for span in spans:
        messages = span.attributes[attr.INPUT_MESSAGES]
        assert len(messages) == LIMIT and messages.startswith('[{"role":"user","content":"Tell me')  # SDK-limited
        assert span.attributes[attr.OUTPUT_MESSAGES]
    assert spans[1].attributes[attr.SYSTEM_INSTRUCTIONS] == "Be brief."
    for url in app.urls:
        rows = app.rows(url)
        assert [row["provider"] for row in rows] == ["openai", "anthropic"]
        for row in rows:
            assert json.loads(row["request_json"])["messages"] == [{"role": "user", "content": PROMPT}]
            assert json.loads(row["response_json"])["id"] and row["payload_truncated"] is False
    (forwarded_openai, _) = app.forwarded.get_finished_spans()
    assert forwarded_openai.attributes[attr.INPUT_MESSAGES] == spans[0].attributes[attr.INPUT_MESSAGES]


def test_a_non_idempotent_redactor_sees_each_free_text_once(app, openai_server):
    seen: list[str] = []

    def marking(text: str) -> str:
        seen.append(text)
        return text.replace("Lisbon", "[CITY]") + "<r>"

    redaction.set_redactor(marking)
    try:
        with llm_context(customer_id="acme"):
            openai_client(openai_server).chat.completions.create(
                model=OPENAI_MODEL, messages=[{"role": "user", "content": PROMPT}]
            )
        app.close()  # rows written while the redactor is on
    finally:
        redaction.set_redactor(None)

    # Payloads once in all; a leftover span attribute once per row (each exporter writes its own).
    counts = Counter(seen)
    payloads = [text for text in counts if text.startswith(("[", "{"))]
    assert len(payloads) == 5 and all(counts[text] == 1 for text in payloads)  # config, in, out, request, response
    assert all(count <= len(app.exporters) for count in counts.values())
    assert not any("<r>" in text for text in seen)  # nothing redacted is redacted again
    assert not any(text in ("acme", OPENAI_MODEL) or text.startswith("chatcmpl") for text in seen)  # no ids/models
    (span,) = app.llm_spans()
    assert span.attributes[attr.LLM_CONFIG_JSON] == '{"model":"gpt-4o-mini"}<r>'  # what the app's exporter sees
    for url in app.urls:
        (row,) = app.rows(url)
        for column in ("request_json", "response_json", "llm_config_json"):
            assert row[column].count("<r>") == 1 and row[column].endswith("<r>"), column
        assert "Lisbon" not in row["request_json"] and "[CITY]" in row["request_json"]
        assert (row["customer_id"], row["request_model"]) == ("acme", OPENAI_MODEL)
    (forwarded,) = app.forwarded.get_finished_spans()
    assert forwarded.attributes[attr.LLM_CONFIG_JSON].count("<r>") == 1
