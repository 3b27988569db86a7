"""Realistic ``llm_traces`` rows for tests and benchmarks (about 2 KB of payload each by default)."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

from otel_llm.storage import values


def make_row(i: int, payload_bytes: int = 2048, run: str = "run") -> dict:
    """Row number ``i``; ``run`` namespaces the deterministic id so separate tests don't collide."""
    now_ns = time.time_ns()
    message = ("lorem ipsum dolor sit amet \"quoted\" \u00e9\n" * (payload_bytes // 80 + 1))
    request = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": message[: payload_bytes // 2]}]})
    response = json.dumps({"id": f"resp-{i}", "choices": [{"message": {"content": message[: payload_bytes // 2]}}]})
    return {
        "id": uuid.uuid5(uuid.NAMESPACE_OID, f"{run}-{i}"),
        "timestamp": now_ns,
        "end_timestamp": now_ns + 1_500_000_000,
        "trace_id": f"{i:032x}",
        "span_id": f"{i:016x}",
        "parent_span_id": "",
        "span_name": "chat gpt-4o",
        "service_name": "bench",
        "organization_id": "org-1",
        "project_id": "proj-1",
        "user_id": f"user-{i % 100}",
        "conversation_id": f"conv-{i % 1000}",
        "agent_id": "agent-1",
        "agent_tags": ["prod", "support"],
        "run_id": f"run-{i % 500}",
        "step_id": f"step-{i}",
        "call_type": "llm",
        "billing_plan_type": "payg",
        "billing_cost_source": "computed",
        "customer_id": f"cust-{i % 50}",
        "is_byok": i % 2 == 0,
        "provider": "openai",
        "operation": "chat",
        "request_model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "response_id": f"resp-{i}",
        "is_stream": False,
        "finish_reason": "stop",
        "server_address": "api.openai.com",
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "cached_input_tokens": 0,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "usage_details": {"input": 1200, "output": 300},
        "cost_usd": Decimal("0.006000000"),
        "cost_details": {"input": Decimal("0.003"), "output": Decimal("0.003")},
        "pricing_version": "2025-01",
        "service_tier": "",
        "latency_ms": 1500.25,
        "ttft_ms": None,
        "is_error": False,
        "error_type": "",
        "error_message": "",
        "http_status_code": 200,
        "request_bytes": len(request),
        "response_bytes": len(response),
        "payload_truncated": False,
        "request_json": request,
        "response_json": response,
        "llm_config_json": '{"temperature":0.2}',
        "span_attributes": {"http.method": "POST"},
        "resource_attributes": {"service.name": "bench"},
    }


def count_rows(url: str) -> tuple[int, int]:
    """``(rows, distinct ids)`` in the store at ``url``, without FINAL: every row exactly once, not
    merely once after deduplication."""
    from otel_llm.storage import open_store

    store = open_store(url)
    try:
        return store.query("SELECT count(), uniqExact(id) FROM llm_traces")[1][0]
    finally:
        store.close()


def as_dicts(rows: list) -> list[dict]:
    """Rows as the exporter submits them -> dicts of the stored values."""
    return [values.coerce_row(row)._asdict() for row in rows]
