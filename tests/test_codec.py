"""The codec's two paths agree: what pyarrow accepts as it is, and what is coerced value by value.

A column goes to pyarrow untouched and is coerced in Python only when pyarrow refuses it, so the
stored value must not depend on which path a value took, nor on the other rows of its batch.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from otel_llm.storage import arrow, arrow_maps, codec, values
from otel_llm.storage.columns import COLUMN_NAMES, Row

from tests.rows import make_row

CLEAN = values.as_row(make_row(1))

ODD_VALUES = [
    ("prompt_tokens", "12", 12),
    ("prompt_tokens", 7.0, 7),
    ("prompt_tokens", -1, None),
    ("prompt_tokens", 2**70, None),
    ("prompt_tokens", True, None),
    ("http_status_code", 70000, None),
    ("cost_usd", "0.004250000", Decimal("0.00425")),
    ("cost_usd", "1e-3", Decimal("0.001")),
    ("cost_usd", "0.1234567891", Decimal("0.123456789")),
    ("cost_usd", " 0.5", Decimal("0.5")),
    ("cost_usd", "abc", None),
    ("cost_usd", 0.25, Decimal("0.25")),
    ("cost_usd", "1000000000", None),
    ("cost_usd", Decimal("NaN"), None),
    ("customer_id", 5, "5"),
    ("customer_id", None, ""),
    ("customer_id", "x\ud800y", "x\ufffdy"),
    ("agent_tags", ("a", 1), ("a", "1")),
    ("agent_tags", None, ()),
    ("agent_tags", ("a", None), ("a", "")),
    ("ttft_ms", True, 1.0),
    ("is_byok", "true", True),
    ("cost_details", {"input": "0.1234567891", "bad": "abc", "output": 0.25}, {"input": Decimal("0.123456789"), "output": Decimal("0.25")}),
    ("usage_details", {"input": "3", "bad": -1}, {"input": 3}),
    ("span_attributes", {"note": "x\ud800"}, {"note": "x\ufffd"}),
    ("span_attributes", {"x\ud800": "note"}, {"x\ufffd": "note"}),
    ("span_attributes", '{"as": "text"}', {"as": "text"}),
    ("span_attributes", "not json", {}),
    ("cost_details", '{"input":"0.0005","output":"0.003"}', {"input": Decimal("0.0005"), "output": Decimal("0.003")}),
    ("cost_details", '{"input":"0.1234567891"}', {"input": Decimal("0.123456789")}),
    ("cost_details", '{"input":"abc","output":""}', {}),
    ("cost_details", '{"input":"1","input":"2"}', {"input": Decimal("2")}),
    ("cost_details", '{"input":0.25}', {"input": Decimal("0.25")}),
    ("cost_details", '{"a\\"b":"0.5"}', {'a"b': Decimal("0.5")}),
    ("cost_details", '{"ab","c":"d":"e"}', {}),
    ("cost_details", "[1, 2]", {}),
    ("cost_details", "", {}),
    ("id", "4bd4f5d1-04b6-4f5e-9c1d-5d4f6b1e2a3c", bytes.fromhex("4bd4f5d104b64f5e9c1d5d4f6b1e2a3c")),
    ("id", b"short", bytes(16)),
    ("id", None, bytes(16)),
    ("id", 0, bytes(16)),
]


def stored(batch: pa.RecordBatch) -> list[Row]:
    """The batch's rows as Python values in the shapes coerce_row gives."""
    columns = []
    for name, column in zip(batch.schema.names, batch.columns):
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        values = column.to_pylist()
        if pa.types.is_map(column.type):
            values = [dict(value) for value in values]
        elif pa.types.is_list(column.type):
            values = [tuple(value) for value in values]
        columns.append(values)
    return [Row(*values) for values in zip(*columns)]


@pytest.mark.parametrize(("column", "value", "expected"), ODD_VALUES)
def test_a_value_is_stored_the_same_alone_and_beside_clean_rows(column: str, value, expected) -> None:
    odd = CLEAN._replace(**{column: value})
    assert getattr(values.coerce_row(odd), column) == expected
    for rows in ([odd], [CLEAN, odd, CLEAN]):
        assert stored(codec.record_batch(rows)) == [values.coerce_row(row) for row in rows], rows


COST_TEXTS = [
    '{"input":"0.0005","output":"0.003"}',
    None,
    "",
    '{"cache_read":"0.00125"}',
]


# Many distinct texts are taken apart column-wide by Arrow's kernels, a few one by one (the
# rule); either way a column holding one odd text must store what the rule gives each row.
MANY_COST_TEXTS = [f'{{"input":"0.{i:09d}","output":"0.003"}}' for i in range(40)] + COST_TEXTS
USAGE_TEXTS = ['{"audio_input":0,"cache_write_5m":120}', None, "", '{"web_search_requests":2}']
MANY_USAGE_TEXTS = [f'{{"cache_write_5m":{i},"cache_write_1h":7}}' for i in range(40)] + USAGE_TEXTS
ODD_USAGE_TEXTS = [
    '{"a":01}', '{"a":-1,"b":2}', '{"a":"1"}', '{"a":1.0}', '{"a": 1}', '{"a":18446744073709551616}',
    '{"a":1,"a":2}', '{"a\\"b":1}', '{"a":1,x"b":2}', "[1]", "not json", "{}", '{"a":1e3}', '{"":3}',
]
ODD_TEXTS = [("cost_details", value) for column, value, _ in ODD_VALUES if column == "cost_details"] + [
    ("usage_details", value) for value in ODD_USAGE_TEXTS
]


@pytest.mark.parametrize("many", [False, True], ids=["few texts", "many texts"])
@pytest.mark.parametrize("column, odd", ODD_TEXTS)
def test_map_texts_are_stored_the_same_among_texts(column: str, odd, many: bool) -> None:
    texts = {"cost_details": (COST_TEXTS, MANY_COST_TEXTS), "usage_details": (USAGE_TEXTS, MANY_USAGE_TEXTS)}
    clean = texts[column][many]
    rows = [CLEAN._replace(**{column: value}) for value in [*clean, odd, *clean]]
    assert stored(codec.record_batch(rows)) == [values.coerce_row(row) for row in rows]


def test_flat_texts_are_taken_apart_a_column_at_a_time() -> None:
    cost, usage = codec.SCHEMA.field("cost_details").type, codec.SCHEMA.field("usage_details").type
    texts = pa.array([text or "" for text in COST_TEXTS], pa.string())
    # _flat_map_array raises where the value-by-value path would be needed.
    assert [dict(value) for value in arrow_maps._flat_map_array(texts, cost).to_pylist()] == [
        {"input": Decimal("0.0005"), "output": Decimal("0.003")}, {}, {}, {"cache_read": Decimal("0.00125")}
    ]
    texts = pa.array([text or "" for text in USAGE_TEXTS], pa.string())
    assert [dict(value) for value in arrow_maps._flat_map_array(texts, usage).to_pylist()] == [
        {"audio_input": 0, "cache_write_5m": 120}, {}, {}, {"web_search_requests": 2}
    ]
    for odd, typ in [('{"input":"1","input":"2"}', cost), *((text, usage) for text in ODD_USAGE_TEXTS if text != '{"":3}')]:
        with pytest.raises(arrow.REFUSED):
            arrow_maps._flat_map_array(pa.array([odd], pa.string()), typ)


def test_a_dict_row_without_an_id_is_stored_with_the_default_one() -> None:
    [row] = stored(codec.record_batch([values.as_row({"request_json": "{}"})]))
    assert row.id == bytes(16)
    assert row.request_json == "{}"


def test_clean_values_are_kept_as_they_are() -> None:
    [row] = stored(codec.record_batch([CLEAN]))
    kept = {name: value for name, value, given in zip(COLUMN_NAMES, row, CLEAN) if value != given}
    # Only the UUID (given as uuid.UUID, stored as its bytes) and the list of tags (a tuple) differ.
    assert kept == {"id": CLEAN.id.bytes, "agent_tags": tuple(CLEAN.agent_tags)}


def _with_payloads(row: Row, request: str, response: str = "{}") -> Row:
    return row._replace(request_json=request, response_json=response,
                        request_bytes=len(request.encode("utf-8", "surrogatepass")), response_bytes=len(response.encode()))


LARGE = codec.LARGE_TEXT_CHARS
LARGE_TEXTS = [
    '{"content":"' + "x" * LARGE + '"}',  # ASCII: the str's own characters
    '{"content":"' + "é✓" * (LARGE // 2) + '"}',  # not ASCII: the UTF-8 copy the str keeps
    '{"content":"' + "x" * LARGE + '\ud800"}',  # a lone surrogate: copied, U+FFFD as anywhere else
]


def test_a_row_with_a_large_payload_is_encoded_alone_and_stored_intact() -> None:
    rows = [CLEAN, _with_payloads(CLEAN, LARGE_TEXTS[0]), CLEAN, CLEAN, *(_with_payloads(CLEAN, t) for t in LARGE_TEXTS[1:])]
    chunks = list(codec.chunks(rows, 3))
    assert [len(chunk) for chunk in chunks] == [1, 1, 1, 1, 1, 1]  # [CLEAN], [large], [CLEAN], [CLEAN], ...
    assert [list(chunk) for chunk in codec.chunks(rows[2:4], 3)] == [rows[2:4]]
    for chunk in chunks:
        assert stored(codec.record_batch(chunk)) == [values.coerce_row(row) for row in chunk]
    assert values.coerce_row(rows[-1]).request_json.endswith('\ufffd"}')


def test_a_large_ascii_payload_is_not_copied_into_its_batch() -> None:
    row = _with_payloads(CLEAN, LARGE_TEXTS[0])
    before = pa.total_allocated_bytes()
    batch = codec.record_batch([row])
    assert pa.total_allocated_bytes() - before < LARGE // 10
    assert batch.column("request_json")[0].as_py() == LARGE_TEXTS[0]
    # Still a batch like any other: it goes through an IPC stream (spool, remote store) intact.
    [back] = pa.ipc.open_stream(codec.write_stream([batch])).read_all().to_batches()
    assert back.column("request_json")[0].as_py() == LARGE_TEXTS[0]
