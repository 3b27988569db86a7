"""API keys, credential headers and configured secret patterns never reach a span, a row, a log
or a spool file: real calls through instrumentor → exporter → chDB, then EVERYTHING written is
searched for the secrets."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_llm
from otel_llm import LLMTraceExporter, redaction
from otel_llm.storage import open_store, parse_url
from otel_llm.storage.ownership import OwnerLock
from tests.rows import as_dicts

from .conftest import ANTHROPIC_KEY, OPENAI_KEY, anthropic_client, instrumented, openai_client

# A secret the user's own data carries (a customer's token pasted into a prompt), which only a
# configured pattern can recognise.
CUSTOMER_TOKEN = "cust_tok_5f9a0c1d2e3b4a59"
HEADER_SECRET = "Bearer hdr-secret-77aa99"


@pytest.fixture(autouse=True)
def no_redactor_after():
    yield
    redaction.set_redactor(None)


def ours(caplog) -> str:
    """Our log records (the SDKs' own DEBUG logs print request options, headers included)."""
    return "\n".join(r.getMessage() + repr(r.exc_info) for r in caplog.records if r.name.startswith("otel_llm"))


def everything_written(chdb_url, spans, log_text, home) -> str:
    """Every span attribute, event and status; every column of every row as text; our logs; every
    file left under the store's and the app's directories."""
    texts = [log_text]
    for span in spans:
        if span.instrumentation_scope.name == "foreign":
            continue  # the test's own span: what it carries is the test's doing, its ROW is checked
        texts += [span.name, repr(dict(span.attributes)), repr(span.status.description)]
        texts += [repr(dict(e.attributes or {})) for e in span.events]
        texts.append(repr(dict(span.resource.attributes)))
    store = open_store(chdb_url)
    try:
        _, rows = store.query("SELECT * FROM llm_traces")
        texts += [repr(row) for row in rows]
        count = store.query("SELECT count() FROM llm_traces")[1][0][0]
    finally:
        store.close()
    root = chdb_url.removeprefix("chdb://")
    for base in (Path(root).parent, home):  # chDB's own parts are compressed: the SELECT covers them
        for path in base.rglob("*") if base.exists() else ():
            if path.is_file():
                texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts), count


def run_calls(chdb_url, openai_server, anthropic_server, prompt, monkeypatch) -> tuple[list, str]:
    """Real calls through instrumentor -> exporter -> spool -> store process -> chDB. The test holds
    the store's owner lock meanwhile, as a busy store process would, so the spool files stay until
    they are read here. Returns (spans, spool files' bytes as text)."""
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    holder = OwnerLock(parse_url(chdb_url).lock_path)
    assert holder.try_acquire()
    memory = InMemorySpanExporter()
    exporter = LLMTraceExporter(chdb_url, forward_to=None)
    provider = TracerProvider(resource=Resource({"service.name": "secrets"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    headers = {"Authorization": HEADER_SECRET, "x-api-key": HEADER_SECRET}
    with instrumented(provider):
        oai = openai_client(openai_server)
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], extra_headers=headers)
        for chunk in oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True):
            pass
        with pytest.raises(Exception):
            oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[error:401]"}], extra_headers=headers)
        ant = anthropic_client(anthropic_server)
        ant.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": prompt}], extra_headers=headers)
        # A span of another instrumentation recording request headers, as HTTP instrumentations can.
        with provider.get_tracer("foreign").start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai",
            "http.request.header.authorization": HEADER_SECRET, "http.request.header.x-api-key": HEADER_SECRET,
            "gen_ai.input.messages": f'[{{"role":"user","content":"{prompt}"}}]',
        }):
            pass
    assert exporter.force_flush()
    spool = Path(chdb_url.removeprefix("chdb://") + ".spool")
    spooled = [p.read_bytes() for p in spool.glob("*.rows")]
    assert spooled  # the rows really went through spool files
    holder.release()
    provider.shutdown()
    return memory.get_finished_spans(), "\n".join(b.decode("latin-1") for b in spooled)


def test_api_keys_and_auth_headers_never_written(chdb_url, openai_server, anthropic_server, monkeypatch, caplog, isolated_home):
    caplog.set_level(logging.DEBUG)
    spans, spooled = run_calls(chdb_url, openai_server, anthropic_server, "hello", monkeypatch)
    written, rows = everything_written(chdb_url, spans, ours(caplog), isolated_home)
    written += spooled
    assert "hello" in spooled
    assert rows == 5 and len(spans) == 5
    assert "hello" in written  # the search does see payloads
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, HEADER_SECRET, "hdr-secret-77aa99"):
        assert secret not in written


def test_configured_patterns_redact_payloads_everywhere(chdb_url, openai_server, anthropic_server, monkeypatch, caplog, isolated_home):
    monkeypatch.setenv(redaction.PATTERNS_ENV, r"cust_tok_[0-9a-f]{16}  never-matches-\d+")
    redaction.set_redactor(None)  # re-read the environment
    caplog.set_level(logging.DEBUG)
    spans, spooled = run_calls(chdb_url, openai_server, anthropic_server, f"my token is {CUSTOMER_TOKEN}", monkeypatch)
    written, rows = everything_written(chdb_url, spans, ours(caplog), isolated_home)
    written += spooled
    assert rows == 5
    assert CUSTOMER_TOKEN not in written
    assert "my token is [REDACTED]" in written


def test_set_redactor_callable_also_applies_to_spans_without_our_exporter(openai_server, tracer_provider, span_exporter):
    otel_llm.set_redactor(lambda text: re.sub(r"\d{4}-\d{4}-\d{4}-\d{4}", "<card>", text))
    with instrumented(tracer_provider):
        openai_client(openai_server).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "card 4111-1111-1111-1111"}]
        )
    [span] = span_exporter.get_finished_spans()
    assert "4111-1111" not in repr(dict(span.attributes))
    assert "card <card>" in span.attributes["gen_ai.input.messages"]


def test_a_failing_redactor_withholds_the_payload_rather_than_leak_it(openai_server, tracer_provider, span_exporter, caplog):
    def broken(text):
        raise RuntimeError("redactor bug")

    otel_llm.set_redactor(broken)
    with instrumented(tracer_provider):
        reply = openai_client(openai_server).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"secret {CUSTOMER_TOKEN}"}]
        )
    assert reply.choices[0].message.content
    [span] = span_exporter.get_finished_spans()
    assert CUSTOMER_TOKEN not in repr(dict(span.attributes))


def test_bad_pattern_is_reported_and_the_good_ones_still_apply(monkeypatch, caplog):
    monkeypatch.setenv(redaction.PATTERNS_ENV, r"([unclosed  secret-\d+")
    redaction.set_redactor(None)
    assert redaction.redact("a secret-123 b") == "a [REDACTED] b"
    assert "([unclosed" in caplog.text


def test_no_redaction_configured_costs_nothing(monkeypatch):
    monkeypatch.delenv(redaction.PATTERNS_ENV, raising=False)
    redaction.set_redactor(None)
    assert redaction.active() is None


def test_receiver_rows_are_redacted_and_never_keep_credential_headers(monkeypatch):
    """Spans of any producer arriving through ``otel-llm serve`` get the same treatment."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from tests.receiver.conftest import RowSink, Running, start

    monkeypatch.setenv(redaction.PATTERNS_ENV, r"cust_tok_[0-9a-f]{16}")
    redaction.set_redactor(None)
    provider = TracerProvider(resource=Resource({"service.name": "remote", "http.request.header.cookie": "sid=1"}))
    span = provider.get_tracer("openllmetry").start_span("openai.chat", attributes={
        "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o", "llm.request.type": "chat",
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": f"token {CUSTOMER_TOKEN}",
        "http.request.header.authorization": HEADER_SECRET, "custom.note": f"saw {CUSTOMER_TOKEN}",
    })
    span.end()
    sink = RowSink()
    running = Running(start(sink), sink)
    try:
        status, _, _ = running.post(encode_spans([span]).SerializeToString())
    finally:
        running.receiver.stop()
    assert status == 200
    [row] = sink.rows
    text = repr(row)
    assert CUSTOMER_TOKEN not in text and HEADER_SECRET not in text and "sid=1" not in text
    assert row["span_attributes"]["custom.note"] == "saw [REDACTED]"
    assert "token [REDACTED]" in row["request_json"]


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def submit(self, rows: list[tuple]) -> None:
        self.rows.extend(as_dicts(rows))

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        return True

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        return True


@pytest.mark.parametrize("with_redactor", [True, False])
def test_forwarded_copies_of_other_instrumentations_spans_are_cleaned_like_their_rows(monkeypatch, with_redactor):
    if with_redactor:
        monkeypatch.setenv(redaction.PATTERNS_ENV, r"cust_tok_[0-9a-f]{16}")
    else:
        monkeypatch.delenv(redaction.PATTERNS_ENV, raising=False)
    redaction.set_redactor(None)
    downstream = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(LLMTraceExporter(writer=_Rows(), forward_to=downstream)))
    provider.get_tracer("openllmetry").start_span("openai.chat", attributes={
        "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o", "llm.request.type": "chat",
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": f"token {CUSTOMER_TOKEN}",
        "http.request.header.authorization": HEADER_SECRET, "custom.note": f"saw {CUSTOMER_TOKEN}",
    }).end()
    provider.get_tracer("web").start_span("GET /", attributes={"custom.note": f"saw {CUSTOMER_TOKEN}"}).end()

    llm_span, other_span = downstream.get_finished_spans()
    assert "http.request.header.authorization" not in llm_span.attributes
    if with_redactor:
        assert llm_span.attributes["custom.note"] == "saw [REDACTED]"
        assert llm_span.attributes["gen_ai.prompt.0.content"] == "token [REDACTED]"
    else:
        assert llm_span.attributes["gen_ai.prompt.0.content"] == f"token {CUSTOMER_TOKEN}"
    # Spans that are not LLM calls go on exactly as they came: they are the app's, not ours.
    assert other_span.attributes["custom.note"] == f"saw {CUSTOMER_TOKEN}"
