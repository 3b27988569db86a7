"""Hypothesis against POST /v1/traces: whatever the body, never a 5xx and never a partial write.

Bodies: random bytes, truncations and byte flips of a valid protobuf request, random JSON
documents, truncations of valid OTLP/JSON.  Per request the receiver either answers 200 and the
storage writer got exactly the rows for the spans it accepted (each row complete), or answers
4xx and the writer got nothing.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_llm.storage import codec
from otel_llm.storage.columns import COLUMN_NAMES

from .conftest import RowSink, Running, start
from .payloads import protobuf_body
from .test_http_protocol import otlp_json

VALID_PROTOBUF = protobuf_body(3)
VALID_JSON = json.dumps(otlp_json()).encode()
ROW_COLUMNS = set(COLUMN_NAMES) - {"inserted_at"}


@pytest.fixture(scope="module")
def server():
    sink = RowSink()
    receiver = start(sink)
    yield Running(receiver, sink)
    receiver.stop()


def mutated(valid: bytes):
    return st.one_of(
        st.integers(0, len(valid) - 1).map(lambda cut: valid[:cut]),
        st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), min_size=1, max_size=8).map(
            lambda flips: _flip(valid, flips)
        ),
    )


def _flip(valid: bytes, flips) -> bytes:
    data = bytearray(valid)
    for index, value in flips:
        data[index] = value
    return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Random documents shaped a little like OTLP, so the parser gets past the first key.
otlp_like = st.fixed_dictionaries(
    {"resourceSpans": st.lists(st.fixed_dictionaries({"scopeSpans": st.lists(json_values, max_size=3)}), max_size=2)}
)

protobuf_bodies = st.one_of(st.binary(max_size=512), mutated(VALID_PROTOBUF))
json_bodies = st.one_of(
    st.binary(max_size=256),
    mutated(VALID_JSON),
    json_values.map(lambda value: json.dumps(value).encode()),
    otlp_like.map(lambda value: json.dumps(value).encode()),
)
cases = st.one_of(
    st.tuples(protobuf_bodies, st.just("application/x-protobuf")),
    st.tuples(json_bodies, st.just("application/json")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases)
def test_any_body_is_answered_without_5xx_or_partial_rows(server: Running, case) -> None:
    body, content_type = case
    before = len(server.sink.batches)
    status, _, _ = server.post(body, {"Content-Type": content_type})
    assert status < 500, (status, body[:80])
    new_batches = server.sink.batches[before:]
    if status != 200:
        assert new_batches == [], "a refused request must write nothing"
        return
    for batch in new_batches:
        # The storage writer's encoding must take the batch: one bad row would fail all of it.
        codec.encode(batch)
        for row in batch:
            assert set(row) == ROW_COLUMNS
            assert len(row["trace_id"]) == 32 and len(row["span_id"]) == 16
