"""A small known set of LLM calls, and how to load it through the real storage API.

In the window [T0, T0 + 1h):
  gpt-4o (openai, customer acme, plan pro, agent support-bot): 4 calls, 1 error
      latency 100/200/300/400 ms; TTFT 50/150 ms on the two streams
      input 1000+1000+2000 = 4000, cached 0+500+1500 = 2000, output 100+200+300 = 600
      cost 0.01 + 0.02 + 0.03 = 0.06; the error has no usage and no cost
  claude-sonnet-4-5 (anthropic, customer globex, plan free, agent research): 2 calls
      latency 1000/3000; input 500+500, cached 0+250, output 50+150 (reasoning 20+30)
      cost 0.5 + 1.5 = 2.0
  local-llama (openai, customer acme, agent support-bot, no plan): 1 unpriced call, latency 500
Outside the window: one gpt-4o call a day earlier (cost 100). ROWS[DUPLICATED] is inserted twice,
as a retried batch would be.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from otel_llm.storage import open_store
from otel_llm.storage import schema

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
RESPONSE = {"id": "chatcmpl-1", "choices": [{"message": {"content": "hello"}}]}


def _ns(when: datetime) -> int:
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def call(n: int, **fields) -> dict:
    """One llm_traces row: every column the data set varies, with defaults, then ``fields``."""
    row = {
        "id": uuid.UUID(int=n + 1),
        "timestamp": T0 + timedelta(minutes=n),
        "trace_id": f"{n:032x}",
        "span_id": f"{n:016x}",
        "span_name": "chat gpt-4o",
        "provider": "openai",
        "operation": "chat",
        "request_model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "customer_id": "acme",
        "billing_plan_type": "pro",
        "agent_id": "support-bot",
        "call_type": "chat",
        "is_stream": False,
        "prompt_tokens": None,
        "cached_input_tokens": None,
        "completion_tokens": None,
        "reasoning_tokens": None,
        "cost_usd": None,
        "latency_ms": 100.0,
        "ttft_ms": None,
        "is_error": False,
        "error_type": "",
        "error_message": "",
        "http_status_code": None,
        "request_json": "{}",
        "response_json": "{}",
    }
    row.update(fields)
    start = row["timestamp"]
    row["timestamp"] = _ns(start)
    row["end_timestamp"] = _ns(start + timedelta(milliseconds=row["latency_ms"]))
    if row["cost_usd"] is not None:
        row["cost_usd"] = Decimal(row["cost_usd"])
    return row


ROWS = [
    call(0, latency_ms=100.0, prompt_tokens=1000, cached_input_tokens=0, completion_tokens=100,
         cost_usd="0.01"),
    call(1, latency_ms=200.0, prompt_tokens=1000, cached_input_tokens=500, completion_tokens=200,
         cost_usd="0.02", is_stream=True, ttft_ms=50.0),
    call(2, latency_ms=300.0, prompt_tokens=2000, cached_input_tokens=1500, completion_tokens=300,
         cost_usd="0.03", is_stream=True, ttft_ms=150.0, trace_id=TRACE_ID,
         request_json=json.dumps(REQUEST), response_json=json.dumps(RESPONSE)),
    call(3, latency_ms=400.0, is_error=True, error_type="RateLimitError", http_status_code=429,
         error_message="rate limited, retry later", response_model=""),
    call(4, provider="anthropic", request_model="claude-sonnet-4-5",
         response_model="claude-sonnet-4-5-20250929", latency_ms=1000.0, prompt_tokens=500,
         cached_input_tokens=0, completion_tokens=50, reasoning_tokens=20, cost_usd="0.5",
         customer_id="globex", billing_plan_type="free", agent_id="research", call_type="plan"),
    call(5, provider="anthropic", request_model="claude-sonnet-4-5",
         response_model="claude-sonnet-4-5-20250929", latency_ms=3000.0, prompt_tokens=500,
         cached_input_tokens=250, completion_tokens=150, reasoning_tokens=30, cost_usd="1.5",
         customer_id="globex", billing_plan_type="free", agent_id="research", call_type="plan"),
    call(6, request_model="local-llama", response_model="local-llama", latency_ms=500.0,
         prompt_tokens=10, completion_tokens=10, billing_plan_type=""),
    call(7, timestamp=T0 - timedelta(days=1), prompt_tokens=10**6, completion_tokens=10**6,
         cost_usd="100"),
]
DUPLICATED = 1


def load(url: str) -> None:
    """Create the schema and insert the data set (the duplicate as a second batch)."""
    store = open_store(url)
    try:
        schema.apply(store)
        columns = list(ROWS[0])
        store.insert(columns, [[row[c] for c in columns] for row in ROWS])
        store.insert(columns, [[ROWS[DUPLICATED][c] for c in columns]])
    finally:
        store.close()
