"""Spans of other services, sent over OTLP through a collector, become rows of ``llm_traces``.

    python examples/collector/run.py

In production the service exports OTLP to an OpenTelemetry Collector, whose ``otlphttp``
exporter sends on to ``otel-llm serve`` (``exporters/otel-collector.yaml``, and
``exporters/README.md`` for running both). This example has no collector binary to run, so the
service's own OTLP exporter talks to the receiver directly: the same protocol, endpoint and bearer
token the collector's exporter uses. The service needs no ClickHouse access: only the receiver
writes rows.
"""

import os
import re
import secrets
import signal
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from standins import api_endpoints, print_rows  # noqa: E402


def start_receiver(token: str) -> tuple[subprocess.Popen, int]:
    """``otel-llm serve`` on a free port; returns the process and its OTLP/HTTP port."""
    receiver = subprocess.Popen(
        [sys.executable, "-m", "otel_llm.cli", "serve", "--http-port", "0", "--grpc-port", "off"],
        env={**os.environ, "OTEL_LLM_RECEIVER_TOKEN": token},
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in receiver.stderr:
        print(line, end="")
        listening = re.search(r"OTLP/HTTP port (\d+)", line)
        if listening:
            return receiver, int(listening.group(1))
    raise SystemExit(f"otel-llm serve exited with status {receiver.wait()}")


def service(endpoint: str, token: str, run_id: str) -> None:
    """Another service: our instrumentors, and OTLP out, as to any collector."""
    import anthropic
    import openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_llm import AnthropicInstrumentor, OpenAIInstrumentor, llm_context

    provider = TracerProvider(resource=Resource.create({"service.name": "search"}))
    otlp = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers={"Authorization": f"Bearer {token}"})
    provider.add_span_processor(BatchSpanProcessor(otlp))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    AnthropicInstrumentor().instrument(tracer_provider=provider)

    question = [{"role": "user", "content": "Summarize the return policy."}]
    with llm_context(customer_id="initech", agent_id="search", run_id=run_id):
        openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=question)
        anthropic.Anthropic().messages.create(model="claude-haiku-4-5", max_tokens=200, messages=question)
    provider.shutdown()  # sends what is still queued


if __name__ == "__main__":
    token, run_id = secrets.token_hex(16), f"example-{uuid.uuid4().hex[:8]}"
    receiver, port = start_receiver(token)
    try:
        with api_endpoints() as endpoints:
            os.environ.update(endpoints)
            service(f"http://127.0.0.1:{port}", token, run_id)
    finally:
        receiver.send_signal(signal.SIGTERM)  # stores what it received, then exits
        for line in receiver.stderr:
            print(line, end="")
        receiver.wait(timeout=60)
    print_rows(run_id)
