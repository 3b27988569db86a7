"""A real embedded ClickHouse (chDB) holding a small known set of LLM calls."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class ChdbStore:
    """Stand-in for otel_llm.storage's store until that branch lands: same query() contract."""

    database = "default"

    def __init__(self, path: Path) -> None:
        from chdb import session

        self._session = session.Session(str(path))

    def query(self, sql, parameters=None):
        params = {k: str(v) for k, v in (parameters or {}).items()}
        table = self._session.query(sql, "ArrowTable", params=params)
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return list(table.column_names), list(zip(*columns))

    def command(self, sql: str) -> None:
        self._session.query(sql, "TabSeparated")

    def close(self) -> None:
        self._session.close()


def _ddl() -> str:
    text = resources.files("otel_llm.storage").joinpath("schema.sql").read_text()
    return (
        text.replace("{database}", "default")
        .replace("{on_cluster}", "")
        .replace("{engine}", "ReplacingMergeTree(inserted_at)")
        .replace("{ttl}", "")
    )


def call(n: int, **fields) -> dict:
    """One llm_traces row: sensible defaults, overridden by ``fields``."""
    row = {
        "id": str(uuid.UUID(int=n + 1)),
        "timestamp": T0 + timedelta(minutes=n),
        "trace_id": f"{n:032x}",
        "span_id": f"{n:016x}",
        "provider": "openai",
        "operation": "chat",
        "request_model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "latency_ms": 100.0,
        "request_json": "{}",
        "response_json": "{}",
        "llm_config_json": "{}",
    }
    row.update(fields)
    row["end_timestamp"] = row["timestamp"] + timedelta(milliseconds=row["latency_ms"])
    return row


# The known data set. In the window [T0, T0 + 1h):
#   gpt-4o (openai, customer acme, plan pro, agent support-bot): 4 calls, 1 error
#       latency 100/200/300/400 ms; TTFT 50/150 ms on the two streams
#       input 1000+1000+2000 = 4000, cached 0+500+1500 = 2000, output 100+200+300 = 600
#       cost 0.01 + 0.02 + 0.03 = 0.06; the error has no usage and no cost
#   claude-sonnet-4-5 (anthropic, customer globex, plan free, agent research): 2 calls
#       latency 1000/3000; input 500+500, cached 0+250, output 50+150 (reasoning 20+30)
#       cost 0.5 + 1.5 = 2.0
#   local-llama (openai, customer acme, agent support-bot): 1 unpriced call, latency 500
# Outside the window: one gpt-4o call a day earlier (cost 100). One gpt-4o row is inserted twice.
ROWS = [
    call(0, latency_ms=100.0, prompt_tokens=1000, cached_input_tokens=0, completion_tokens=100,
         total_tokens=1100, cost_usd="0.01", customer_id="acme", billing_plan_type="pro",
         agent_id="support-bot", call_type="chat"),
    call(1, latency_ms=200.0, prompt_tokens=1000, cached_input_tokens=500, completion_tokens=200,
         total_tokens=1200, cost_usd="0.02", customer_id="acme", billing_plan_type="pro",
         agent_id="support-bot", call_type="chat", is_stream=True, ttft_ms=50.0),
    call(2, latency_ms=300.0, prompt_tokens=2000, cached_input_tokens=1500, completion_tokens=300,
         total_tokens=2300, cost_usd="0.03", customer_id="acme", billing_plan_type="pro",
         agent_id="support-bot", call_type="chat", is_stream=True, ttft_ms=150.0,
         trace_id=TRACE_ID,
         request_json=json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
         response_json=json.dumps({"id": "chatcmpl-1", "choices": [{"message": {"content": "hello"}}]})),
    call(3, latency_ms=400.0, is_error=True, error_type="RateLimitError", http_status_code=429,
         error_message="rate limited, retry later", response_model="", customer_id="acme",
         billing_plan_type="pro", agent_id="support-bot", call_type="chat"),
    call(4, provider="anthropic", request_model="claude-sonnet-4-5",
         response_model="claude-sonnet-4-5-20250929", latency_ms=1000.0, prompt_tokens=500,
         cached_input_tokens=0, completion_tokens=50, reasoning_tokens=20, cost_usd="0.5",
         customer_id="globex", billing_plan_type="free", agent_id="research", call_type="plan"),
    call(5, provider="anthropic", request_model="claude-sonnet-4-5",
         response_model="claude-sonnet-4-5-20250929", latency_ms=3000.0, prompt_tokens=500,
         cached_input_tokens=250, completion_tokens=150, reasoning_tokens=30, cost_usd="1.5",
         customer_id="globex", billing_plan_type="free", agent_id="research", call_type="plan"),
    call(6, request_model="local-llama", response_model="local-llama", latency_ms=500.0,
         prompt_tokens=10, completion_tokens=10, customer_id="acme", agent_id="support-bot",
         call_type="chat"),
    call(7, timestamp=T0 - timedelta(days=1), prompt_tokens=10**6, completion_tokens=10**6,
         cost_usd="100", customer_id="acme"),
]
DUPLICATED = 1  # ROWS[1] is inserted a second time, as a retried batch would


def insert(store: ChdbStore, rows: list[dict]) -> None:
    def encode(row: dict) -> str:
        return json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()})

    body = "\n".join(encode(row) for row in rows)
    store.command(
        "INSERT INTO default.llm_traces SETTINGS date_time_input_format = 'best_effort' "
        f"FORMAT JSONEachRow {body}"
    )


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    opened = ChdbStore(tmp_path_factory.mktemp("analytics") / "chdb")
    opened.command(_ddl())
    insert(opened, ROWS)
    insert(opened, [ROWS[DUPLICATED]])
    yield opened
    opened.close()
