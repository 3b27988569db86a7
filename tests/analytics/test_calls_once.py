"""Several spans of one provider call, stored in separate batches, are counted once by stats."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.analytics.dataset import T0, call
from otel_llm.analytics import stats
from otel_llm.analytics.window import Window
from otel_llm.storage import open_store, schema

HOUR = Window(T0, T0 + timedelta(hours=1))
TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_one_call_traced_twice_arriving_in_separate_batches_counts_once(tmp_path):
    usage = dict(prompt_tokens=3600, cached_input_tokens=2000, completion_tokens=20, cost_usd="0.00265")
    # OpenLLMetry's span (no response id) around the Anthropic SDK's own span of the same call...
    outer = call(1, trace_id=TRACE, span_id="00000000000000a1", parent_span_id="00000000000000f0", **usage)
    inner = call(2, trace_id=TRACE, span_id="00000000000000a2", parent_span_id="00000000000000a1",
                 response_id="msg_1", **usage)
    # ...a framework span around two retried calls bills the two calls, not itself...
    wrapper = call(3, trace_id=TRACE, span_id="00000000000000b1", **usage)
    first = call(4, trace_id=TRACE, span_id="00000000000000b2", parent_span_id="00000000000000b1",
                 response_id="msg_2", prompt_tokens=100, completion_tokens=1, cost_usd="0.001")
    second = call(5, trace_id=TRACE, span_id="00000000000000b3", parent_span_id="00000000000000b1",
                  response_id="msg_3", prompt_tokens=100, completion_tokens=1, cost_usd="0.001")
    # ...and two sibling spans with one response id: the one that tells more is counted.
    bare = call(6, trace_id=TRACE, span_id="00000000000000c1", response_id="msg_4")
    full = call(7, trace_id=TRACE, span_id="00000000000000c2", response_id="msg_4", prompt_tokens=10,
                completion_tokens=5, cost_usd="0.5")
    # OpenLLMetry Python's span (with the response id) around the SDK's span with the same id.
    named_outer = call(8, trace_id=TRACE, span_id="00000000000000d1", response_id="msg_5", prompt_tokens=10,
                       completion_tokens=5, cost_usd="0.25", request_json='{"messages": []}')
    named_inner = call(9, trace_id=TRACE, span_id="00000000000000d2", parent_span_id="00000000000000d1",
                       response_id="msg_5", prompt_tokens=10, completion_tokens=5, cost_usd="0.25")
    store = open_store(f"chdb://{tmp_path}/db")
    try:
        schema.apply(store)
        for row in (outer, inner, wrapper, first, second, bare, full, named_outer, named_inner):  # a batch each
            columns = list(row)
            store.insert(columns, [[row[c] for c in columns]])
        total = stats.compute(store, HOUR).total
    finally:
        store.close()
    assert total["calls"] == 5
    assert total["cost_usd"] == Decimal("0.00265") + Decimal("0.002") + Decimal("0.5") + Decimal("0.25")
    assert total["input_tokens"] == 3600 + 200 + 10 + 10
