"""Spans the real Anthropic SDK emits by itself (no otel-llm instrumentor) become correct rows."""

from __future__ import annotations

import json

import anthropic
import pytest

from otel_llm import llm_context
from otel_llm.exporter import span_to_row
from otel_llm.exporter.context_processor import LLMContextSpanProcessor
from otel_llm.standin.server import JSONResponse, Request, StandinServer

from .spans import make_provider

# The SDK warns that the model the stand-in answers for is nearing end-of-life; irrelevant here.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MESSAGE = {
    "id": "msg_01XYZ",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hello from the stand-in."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_read_input_tokens": 200,
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    },
}


@pytest.fixture
def server():
    def handler(request: Request) -> JSONResponse:
        return JSONResponse(MESSAGE, headers={"request-id": "req_standin"})

    with StandinServer(handler) as running:
        yield running


def test_sdk_span_becomes_row_with_our_convention_and_context(server: StandinServer) -> None:
    provider, spans = make_provider()
    provider.add_span_processor(LLMContextSpanProcessor())
    client = anthropic.Anthropic(
        api_key="test-key",
        base_url=server.base_url,
        open_telemetry={"tracer_provider": provider, "traces": {"content_mode": "content"}},
    )
    with llm_context(customer_id="acme", plan_type="pro", agent_tags=["triage"]):
        client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=64,
            system="be brief",
            messages=[{"role": "user", "content": "hi"}],
        )
    (span,) = spans.get_finished_spans()
    row = span_to_row(span)
    assert row is not None
    assert (row["provider"], row["operation"]) == ("anthropic", "chat")
    assert (row["request_model"], row["response_model"]) == ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929")
    assert row["response_id"] == "msg_01XYZ" and row["finish_reason"] == "end_turn"
    # DESIGN.md: input = uncached + cache read + cache write, whatever the SDK wrote
    assert row["prompt_tokens"] == 510 and row["completion_tokens"] == 7 and row["total_tokens"] == 517
    assert row["cached_input_tokens"] == 200 and row["cache_write_tokens"] == 300
    assert row["usage_details"] == {"cache_write_5m": 100, "cache_write_1h": 200}
    assert row["cost_usd"] is not None and set(row["cost_details"]) >= {"cache_write", "cache_write_1h"}
    assert (row["customer_id"], row["billing_plan_type"], row["agent_tags"]) == ("acme", "pro", ("triage",))
    assert row["server_address"] == "127.0.0.1"
    request = json.loads(row["request_json"])
    assert request["input_messages"][0]["role"] == "user"
    assert "be brief" in row["request_json"]
    assert "Hello from the stand-in." in row["response_json"]
    assert row["is_error"] is False and row["payload_truncated"] is False
    assert row["span_attributes"]["anthropic.request.id"] == "req_standin"
    assert "test-key" not in json.dumps(row, default=str)


def test_sdk_error_span(server: StandinServer) -> None:
    server.handler = lambda request: JSONResponse(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=529
    )
    provider, spans = make_provider()
    client = anthropic.Anthropic(
        api_key="k", base_url=server.base_url, max_retries=0, open_telemetry={"tracer_provider": provider}
    )
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    (span,) = spans.get_finished_spans()
    row = span_to_row(span)
    assert row["is_error"] is True and row["error_type"] == "overloaded_error"
    assert row["http_status_code"] == 529
    assert row["prompt_tokens"] is None and row["cost_usd"] is None
