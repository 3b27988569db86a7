"""span_to_row: every column from each producer's span shape."""

from __future__ import annotations

import gc
import json
from decimal import Decimal

import pytest

from otel_llm import attributes as attr
from otel_llm.exporter import span_to_row
from otel_llm.exporter.row import build_row, row_id, span_attributes
from otel_llm.exporter.sources import normalize
from otel_llm.storage.columns import COLUMN_NAMES

from .spans import ANTHROPIC_SDK, OPENINFERENCE, OPENLLMETRY, OURS, emit, make_provider

START = 1_763_000_000_000_000_000


def test_our_span_fills_every_column() -> None:
    span = emit(OURS, parent=True)
    row = span_to_row(span)
    assert row is not None
    context = span.context
    assert row["id"] == row_id(context.trace_id, context.span_id).bytes
    assert row["timestamp"] == START and row["end_timestamp"] == START + 2_000_000_000
    assert row["trace_id"] == f"{context.trace_id:032x}" and row["span_id"] == f"{context.span_id:016x}"
    assert row["parent_span_id"] == f"{span.parent.span_id:016x}"
    assert row["span_name"] == "chat gpt-4o"
    assert row["service_name"] == "support-bot"
    # span wins over resource for organization_id; plan type only on the resource
    assert row["organization_id"] == "org-1"
    assert row["billing_plan_type"] == "enterprise"
    assert (row["project_id"], row["user_id"], row["conversation_id"]) == ("proj-1", "user-1", "conv-1")
    assert (row["agent_id"], row["agent_tags"], row["run_id"], row["step_id"]) == (
        "agent-1",
        ("triage", "beta"),
        "run-1",
        "step-1",
    )
    assert (row["call_type"], row["billing_cost_source"], row["customer_id"], row["is_byok"]) == (
        "completion",
        "platform",
        "acme",
        True,
    )
    assert (row["provider"], row["operation"], row["request_model"], row["response_model"]) == (
        "openai",
        "chat",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert row["response_id"] == "chatcmpl-123" and row["is_stream"] is True
    assert row["finish_reason"] == "stop" and row["server_address"] == "api.openai.com"
    assert row["prompt_tokens"] == 1200 and row["completion_tokens"] == 0 and row["total_tokens"] == 1200
    assert row["cached_input_tokens"] == 1000 and row["cache_write_tokens"] is None
    assert row["reasoning_tokens"] == 0 and row["usage_details"] == {"audio_input": 3}
    assert row["cost_usd"] == Decimal("0.00175")
    assert row["cost_details"] == {"input": Decimal("0.0005"), "cache_read": Decimal("0.00125")}
    assert row["pricing_version"] == "2026-11-01"
    assert row["latency_ms"] == 2000.0 and row["ttft_ms"] == 250.0
    assert row["is_error"] is False and row["error_type"] == "" and row["error_message"] == ""
    assert row["http_status_code"] == 200
    assert row["request_json"] == OURS[attr.REQUEST_JSON]
    assert row["response_json"] == OURS[attr.RESPONSE_JSON]
    assert row["llm_config_json"] == OURS[attr.LLM_CONFIG_JSON]
    assert row["request_bytes"] == len(OURS[attr.REQUEST_JSON])
    assert row["response_bytes"] == len(OURS[attr.RESPONSE_JSON])
    assert row["payload_truncated"] is False
    assert row["span_attributes"] == {
        attr.REQUEST_MAX_TOKENS: "256",
        attr.SERVER_PORT: "443",
        "custom.tag": "kept",
    }
    assert row["resource_attributes"]["deployment.environment"] == "test"
    assert "service.name" not in row["resource_attributes"]
    assert attr.ORGANIZATION_ID not in row["resource_attributes"]


def test_non_llm_span_has_no_row() -> None:
    assert span_to_row(emit({"http.request.method": "GET"}, name="GET /")) is None


def test_missing_tokens_are_null_and_cost_computed_when_absent() -> None:
    span = emit({attr.OPERATION_NAME: "chat", attr.PROVIDER_NAME: "openai", attr.REQUEST_MODEL: "gpt-4o"})
    row = span_to_row(span)
    for column in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_input_tokens", "reasoning_tokens"):
        assert row[column] is None
    assert row["cost_usd"] is None and row["request_json"] == "" and row["response_json"] == ""

    priced = span_to_row(
        emit(
            {
                attr.OPERATION_NAME: "chat",
                attr.PROVIDER_NAME: "openai",
                attr.REQUEST_MODEL: "gpt-4o",
                attr.USAGE_INPUT_TOKENS: 1000,
                attr.USAGE_OUTPUT_TOKENS: 100,
            }
        )
    )
    assert priced["cost_usd"] is not None and priced["cost_usd"] > 0
    assert sum(priced["cost_details"].values()) == priced["cost_usd"]
    assert priced["pricing_version"]


def test_unpriced_model_keeps_reason_in_span_attributes() -> None:
    row = span_to_row(
        emit({attr.OPERATION_NAME: "chat", attr.PROVIDER_NAME: "openai", attr.REQUEST_MODEL: "no-such-model",
              attr.USAGE_INPUT_TOKENS: 1})
    )
    assert row["cost_usd"] is None and row["cost_details"] == {}
    assert "no-such-model" in row["span_attributes"][attr.COST_UNPRICED_REASON]


def test_error_from_status_and_exception_event() -> None:
    row = span_to_row(emit({attr.OPERATION_NAME: "chat"}, error=TimeoutError("read timed out")))
    assert row["is_error"] is True
    assert row["error_type"] == "TimeoutError" and row["error_message"] == "read timed out"

    row = span_to_row(
        emit({attr.OPERATION_NAME: "chat", attr.ERROR_TYPE: "rate_limit_error", attr.ERROR_MESSAGE: "slow down",
              attr.HTTP_RESPONSE_STATUS_CODE: 429})
    )
    assert (row["is_error"], row["error_type"], row["error_message"], row["http_status_code"]) == (
        True, "rate_limit_error", "slow down", 429)


def test_full_payloads_win_over_truncated_attributes() -> None:
    provider, _ = make_provider(max_attribute_length=64)
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 500}]})
    span = emit({attr.OPERATION_NAME: "chat", attr.REQUEST_JSON: big}, provider=provider)
    assert len(span.attributes[attr.REQUEST_JSON]) == 64
    truncated = span_to_row(span)
    assert truncated["payload_truncated"] is True and truncated["request_bytes"] == 64
    full = span_to_row(span, {attr.REQUEST_JSON: big})
    assert full["payload_truncated"] is False and full["request_json"] == big
    assert full["request_bytes"] == len(big)


def test_request_built_from_semconv_messages() -> None:
    span = emit(
        {
            attr.OPERATION_NAME: "chat",
            attr.SYSTEM_INSTRUCTIONS: '[{"type":"text","content":"s"}]',
            attr.INPUT_MESSAGES: '[{"role":"user","parts":[]}]',
            attr.OUTPUT_MESSAGES: '[{"role":"assistant","parts":[]}]',
        }
    )
    row = span_to_row(span)
    assert json.loads(row["request_json"]) == {
        "system_instructions": [{"type": "text", "content": "s"}],
        "input_messages": [{"role": "user", "parts": []}],
    }
    assert json.loads(row["response_json"]) == {"output_messages": [{"role": "assistant", "parts": []}]}
    for key in (attr.SYSTEM_INSTRUCTIONS, attr.INPUT_MESSAGES, attr.OUTPUT_MESSAGES):
        assert key not in row["span_attributes"]


def test_anthropic_sdk_span() -> None:
    row = span_to_row(emit(ANTHROPIC_SDK, name="anthropic.messages.create"))
    assert row["provider"] == "anthropic" and row["operation"] == "chat"
    assert row["request_model"] == "claude-sonnet-4-5" and row["response_model"] == "claude-sonnet-4-5-20250929"
    # the SDK already sums cache into input: kept, not added twice
    assert row["prompt_tokens"] == 1500 and row["completion_tokens"] == 50 and row["total_tokens"] == 1550
    assert row["cached_input_tokens"] == 200 and row["cache_write_tokens"] == 300
    assert row["usage_details"] == {"cache_write_5m": 100, "cache_write_1h": 200}
    assert row["finish_reason"] == "end_turn"
    assert row["cost_usd"] is not None and "cache_write_1h" in row["cost_details"]
    assert json.loads(row["request_json"])["system_instructions"][0]["content"] == "be brief"
    assert json.loads(row["llm_config_json"]) == {"max_tokens": 1024}
    assert row["span_attributes"]["anthropic.request.id"] == "req_01"
    for key in ("gen_ai.usage.cache_write.input_tokens", "anthropic.message.stop_reason",
                "anthropic.usage.cache_creation.ephemeral_5m_input_tokens"):
        assert key not in row["span_attributes"]


def test_anthropic_input_excluding_cache_gets_cache_added() -> None:
    raw = {**ANTHROPIC_SDK, "gen_ai.usage.input_tokens": 10}
    row = span_to_row(emit(raw, name="anthropic.messages.create"))
    assert row["prompt_tokens"] == 10 + 200 + 300


def test_anthropic_sdk_content_truncated_flag() -> None:
    row = span_to_row(emit({**ANTHROPIC_SDK, "anthropic.content.truncated": True}))
    assert row["payload_truncated"] is True


def test_openllmetry_span() -> None:
    row = span_to_row(emit(OPENLLMETRY, name="anthropic.chat"))
    assert row["provider"] == "anthropic" and row["operation"] == "chat"
    assert row["prompt_tokens"] == 10 + 100 and row["completion_tokens"] == 5
    assert row["cached_input_tokens"] == 100 and row["cache_write_tokens"] == 0
    assert row["finish_reason"] == "end_turn" and row["is_stream"] is False
    assert json.loads(row["request_json"]) == {
        "input_messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    }
    assert json.loads(row["response_json"]) == {
        "output_messages": [{"role": "assistant", "content": "ok", "finish_reason": "end_turn"}]
    }
    assert not [k for k in row["span_attributes"] if k.startswith(("gen_ai.prompt", "gen_ai.completion", "gen_ai.usage"))]


def test_openinference_span() -> None:
    row = span_to_row(emit(OPENINFERENCE, name="ChatCompletion"))
    assert row["provider"] == "openai" and row["operation"] == "chat" and row["request_model"] == "gpt-4o-mini"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (40, 8, 48)
    assert row["cached_input_tokens"] == 32 and row["reasoning_tokens"] == 2
    assert row["request_json"] == OPENINFERENCE["input.value"]
    assert json.loads(row["response_json"]) == {"output": "hello there"}
    assert row["llm_config_json"] == OPENINFERENCE["llm.invocation_parameters"]
    assert row["span_attributes"] == {"session.id": "sess-9"}
    assert row["cost_usd"] is not None


def test_normalize_plain_dicts_and_identity_for_ours() -> None:
    assert normalize(OURS) is OURS  # no copy on the hot path
    assert normalize({"http.request.method": "GET"}) is None
    assert normalize({"openinference.span.kind": "CHAIN"}) is None
    assert normalize(OPENLLMETRY)[attr.OPERATION_NAME] == "chat"
    assert normalize({**OPENLLMETRY, "llm.request.type": "embedding"})[attr.OPERATION_NAME] == "embeddings"


def test_row_id_is_deterministic_and_distinct() -> None:
    assert row_id(1, 2) == row_id(1, 2)
    assert row_id(1, 2) != row_id(2, 1)


def test_row_values_are_not_tracked_by_the_garbage_collector() -> None:
    # Each tracked object in a queued row is more work for every collection the app runs.
    span = emit(OURS, parent=True)
    gc.collect()  # as for any span that lived through a collection: its tuples are untracked
    row = build_row(span, normalize(span_attributes(span)), None)
    named = row._asdict()
    assert len(row) == len(COLUMN_NAMES) and row.agent_tags == ("triage", "beta")
    assert [column for column, value in named.items() if gc.is_tracked(value)] == []


def test_out_of_range_numbers_become_null_rather_than_failing_the_batch() -> None:
    row = span_to_row(
        emit({attr.OPERATION_NAME: "chat", attr.USAGE_INPUT_TOKENS: 2**70, attr.USAGE_OUTPUT_TOKENS: -1,
              attr.HTTP_RESPONSE_STATUS_CODE: 70000, attr.COST_USD: "1e-12", attr.COST_PRICING_VERSION: "v"})
    )
    assert (row["prompt_tokens"], row["completion_tokens"], row["http_status_code"]) == (None, None, None)
    assert row["cost_usd"] == 0  # rounded to the column's nine decimal places


def test_cost_that_rounds_past_the_column_becomes_null() -> None:
    row = span_to_row(
        emit({attr.OPERATION_NAME: "chat", attr.COST_USD: "999999999.9999999999", attr.COST_PRICING_VERSION: "v"})
    )
    assert row["cost_usd"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"input":"0.000500000","output":"0.003"}', {"input": Decimal("0.0005"), "output": Decimal("0.003")}),
        ('{"input":"0.0001234567891","bad":"abc","empty":""}', {"input": Decimal("0.000123457")}),
        ('{"input":0.25,"output":"0.5"}', {"input": Decimal("0.25"), "output": Decimal("0.5")}),  # JSON path
        ('{"a\\"b":"0.5"}', {'a"b': Decimal("0.5")}),  # escapes: JSON path
        ('{"a"."b"}', {}),  # not JSON
        ('{"a","b"}', {}),
        ("", {}),
    ],
)
def test_cost_details_from_any_flat_object_text(text: str, expected: dict) -> None:
    row = span_to_row(emit({attr.OPERATION_NAME: "chat", attr.COST_USD: "0.5", attr.COST_DETAILS: text}))
    assert row["cost_details"] == expected
