"""Configuration from the environment, the entry point, ``opentelemetry-instrument``, ``otel_llm.setup()``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

import otel_llm
from otel_llm.exporter import LLMTraceExporter

BIN = Path(sys.executable).parent


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_"))}
    env.update(OTEL_LLM_HOME=str(tmp_path / "home"), **extra)
    return env


def run_python(code: str, env: dict[str, str], *prefix: str) -> str:
    result = subprocess.run(
        [*prefix, sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


QUERY = """
from otel_llm.storage import open_store
store = open_store({url!r})
columns, rows = store.query("SELECT span_name, service_name, customer_id, billing_plan_type, prompt_tokens, "
                            "provider FROM llm_traces FINAL ORDER BY span_name")
print(json.dumps([dict(zip(columns, row)) for row in rows]))
store.close()
"""


def test_entry_point_and_lazy_export() -> None:
    (entry_point,) = entry_points(group="opentelemetry_traces_exporter", name="otel_llm")
    assert entry_point.load() is LLMTraceExporter
    assert otel_llm.LLMTraceExporter is LLMTraceExporter


def test_importing_otel_llm_stays_cheap(tmp_path: Path) -> None:
    out = run_python(
        "import sys, otel_llm; print(sorted(m for m in ('otel_llm.exporter', 'otel_llm.storage', 'chdb', "
        "'opentelemetry.sdk.trace') if m in sys.modules))",
        clean_env(tmp_path),
    )
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, type(None)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, HttpExporter),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
         GrpcExporter),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
          "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, HttpExporter),
    ],
)
def test_no_argument_exporter_configures_itself_from_env(
    env: dict[str, str], expected: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    url = f"chdb://{tmp_path / 'db'}"
    monkeypatch.setenv("OTEL_LLM_CLICKHOUSE_URL", url)
    monkeypatch.setenv("OTEL_LLM_OFFLOAD_THRESHOLD_BYTES", "4096")
    exporter = LLMTraceExporter()
    try:
        assert type(exporter._forward) is expected
        assert exporter._offloader.threshold_bytes == 4096
        assert str(exporter.writer.config.path) == str(tmp_path / "db")
    finally:
        exporter.shutdown(timeout_millis=5_000)


def test_opentelemetry_instrument_with_otel_traces_exporter(tmp_path: Path) -> None:
    url = f"chdb://{tmp_path / 'db'}"
    env = clean_env(
        tmp_path,
        OTEL_TRACES_EXPORTER="otel_llm",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="auto-app",
        OTEL_LLM_CLICKHOUSE_URL=url,
    )
    run_python(
        """
        from opentelemetry import trace
        tracer = trace.get_tracer("app")
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 12}):
            pass
        with tracer.start_as_current_span("not an llm call"):
            pass
        """,
        env,
        str(BIN / "opentelemetry-instrument"),
    )
    rows = json.loads(run_python("import json\n" + QUERY.format(url=url), clean_env(tmp_path)))
    assert rows == [
        {"span_name": "chat gpt-4o", "service_name": "auto-app", "customer_id": "", "billing_plan_type": "",
         "prompt_tokens": 12, "provider": "openai"}
    ]


def test_setup_under_opentelemetry_instrument_adds_no_second_exporter(tmp_path: Path) -> None:
    # A plausible mix-up: OTEL_TRACES_EXPORTER=otel_llm and otel_llm.setup() in the code. Two
    # exporters stored every call twice, and the copy without payloads (they go to one exporter
    # only) could be the one ReplacingMergeTree kept.
    url = f"chdb://{tmp_path / 'db'}"
    env = clean_env(tmp_path, OTEL_TRACES_EXPORTER="otel_llm", OTEL_METRICS_EXPORTER="none",
                    OTEL_LOGS_EXPORTER="none", OTEL_LLM_CLICKHOUSE_URL=url)
    result = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", textwrap.dedent(
            """
            import openai, otel_llm
            from opentelemetry import trace
            from otel_llm.standin.openai import openai_standin
            otel_llm.setup(service_name="both")
            with openai_standin() as api:
                client = openai.OpenAI(base_url=api.base_url + "/v1", api_key="k", max_retries=0)
                for i in range(3):
                    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"hi {i}"}])
            trace.get_tracer_provider().shutdown()
            """)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "setup() found an LLMTraceExporter already running" in result.stderr
    assert "already instrumented" not in result.stderr and "second LLMTraceExporter" not in result.stderr
    counts = run_python(
        f"""
        from otel_llm.storage import open_store
        store = open_store({url!r})
        print(store.query("SELECT count(), countIf(request_bytes > 0 AND response_bytes > 0) FROM llm_traces")[1])
        store.close()
        """,
        clean_env(tmp_path),
    )
    assert counts.strip() == "[(3, 3)]"  # once each, not FINAL-collapsed copies, every one with its payloads


@pytest.mark.parametrize(
    ("instrument", "span_name"),
    [
        # The SDK's own span: billing context comes from LLMContextSpanProcessor.
        (False, "anthropic.messages.create"),
        # Our AnthropicInstrumentor, found through its entry point, replaces the SDK's span.
        (True, "chat claude-sonnet-4-5"),
    ],
)
def test_setup_with_the_anthropic_sdk_gives_one_row_with_context(
    instrument: bool, span_name: str, tmp_path: Path
) -> None:
    url = f"chdb://{tmp_path / 'db'}"
    run_python(
        f"""
        import warnings
        warnings.simplefilter("ignore")
        import anthropic, otel_llm
        from opentelemetry import trace
        from otel_llm.standin.server import JSONResponse, StandinServer

        message = {{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                   "content": [{{"type": "text", "text": "hi"}}], "stop_reason": "end_turn",
                   "usage": {{"input_tokens": 3, "output_tokens": 2}}}}
        provider = otel_llm.setup(service_name="setup-app", clickhouse_url={url!r}, forward_to=None,
                                  instrument={instrument!r})
        assert otel_llm.setup() is provider is trace.get_tracer_provider()  # idempotent
        with StandinServer(lambda request: JSONResponse(message), provider="anthropic") as server:
            client = anthropic.Anthropic(api_key="k", base_url=server.base_url)
            with otel_llm.llm_context(customer_id="acme", plan_type="pro"):
                client.messages.create(model="claude-sonnet-4-5", max_tokens=8,
                                       messages=[{{"role": "user", "content": "hi"}}])
        provider.shutdown()
        """,
        clean_env(tmp_path),
    )
    rows = json.loads(run_python("import json\n" + QUERY.format(url=url), clean_env(tmp_path)))
    assert rows == [
        {"span_name": span_name, "service_name": "setup-app", "customer_id": "acme",
         "billing_plan_type": "pro", "prompt_tokens": 3, "provider": "anthropic"}
    ]


def test_setup_reuses_an_existing_sdk_provider(tmp_path: Path) -> None:
    out = run_python(
        """
        import otel_llm
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        mine = TracerProvider()
        trace.set_tracer_provider(mine)
        print(otel_llm.setup(forward_to=None, instrument=False) is mine)
        mine.shutdown()
        """,
        clean_env(tmp_path, OTEL_LLM_CLICKHOUSE_URL=f"chdb://{tmp_path / 'db'}"),
    )
    assert out.strip() == "True"


def test_forwards_slim_spans_over_otlp_http_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT set: slim LLM spans and untouched others reach a collector."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from otel_llm import attributes as attr

    from .spans import emit

    received: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
        exporter = LLMTraceExporter(f"chdb://{tmp_path / 'db'}")
        big = json.dumps({"messages": [{"role": "user", "content": "q" * 100_000}]})
        exporter.export([emit({attr.OPERATION_NAME: "chat", attr.REQUEST_JSON: big}),
                         emit({"http.route": "/health"}, name="GET /health")])
        exporter.shutdown(timeout_millis=10_000)
    finally:
        server.shutdown()
    (body,) = received
    assert len(body) < 2_000
    request = ExportTraceServiceRequest.FromString(body)
    spans = {span.name: span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans}
    llm_attributes = {kv.key: kv.value for kv in spans["chat gpt-4o"].attributes}
    assert llm_attributes[attr.REQUEST_JSON + attr.PAYLOAD_OFFLOADED_BYTES_SUFFIX].int_value == len(big)
    assert llm_attributes[attr.PAYLOAD_REF_ROW_ID].string_value
    assert [kv.key for kv in spans["GET /health"].attributes] == ["http.route"]


def test_a_malformed_offload_setting_is_logged_and_the_default_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_LLM_OFFLOAD_THRESHOLD_BYTES", "1KB")
    monkeypatch.setenv("OTEL_LLM_OFFLOAD_PREVIEW_CHARS", "-1")
    with caplog.at_level("WARNING", logger="otel_llm"):
        exporter = LLMTraceExporter(f"chdb://{tmp_path / 'db'}", forward_to=None)
    exporter.shutdown(timeout_millis=5_000)
    assert (exporter._offloader.threshold_bytes, exporter._offloader.preview_chars) == (1024, 256)
    warnings = "\n".join(record.getMessage() for record in caplog.records)
    assert "OTEL_LLM_OFFLOAD_THRESHOLD_BYTES='1KB' is not a whole number >= 0; using 1024" in warnings
    assert "OTEL_LLM_OFFLOAD_PREVIEW_CHARS='-1' is not a whole number >= 0; using 256" in warnings


def test_a_malformed_store_url_costs_the_rows_not_the_forwarded_spans(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    monkeypatch.setenv("OTEL_LLM_CLICKHOUSE_URL", "localhost:8123")
    forwarded = InMemorySpanExporter()
    exporter = LLMTraceExporter(forward_to=forwarded)
    assert exporter.writer is None
    assert "OTEL_LLM_CLICKHOUSE_URL='localhost:8123'" in caplog.text and "accepted forms" in caplog.text
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("app").start_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}).end()
    provider.shutdown()
    assert [span.name for span in forwarded.get_finished_spans()] == ["chat gpt-4o"]
