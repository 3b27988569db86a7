"""Column types are parsed once into specs that the value rules, Arrow and JSON encodings share."""

from __future__ import annotations

import pytest

from otel_llm.storage.columns import COLUMN_NAMES, COLUMN_TYPES
from otel_llm.storage.types import ColumnType, parse


def test_wrappers_are_read_into_the_spec() -> None:
    assert parse("Nullable(Decimal(18, 9))") == ColumnType("Nullable(Decimal(18, 9))", "Decimal(18, 9)", nullable=True)
    cost = parse("Map(LowCardinality(String), Decimal(18, 9))")
    assert (cost.base, cost.key.base, cost.item.base, cost.item.nullable) == ("Map", "String", "Decimal(18, 9)", False)
    assert parse("Array(LowCardinality(String))").item == ColumnType("LowCardinality(String)", "String")


def test_defaults_are_clickhouse_s() -> None:
    defaults = dict(zip(COLUMN_NAMES, (typ.default for typ in COLUMN_TYPES)))
    assert (defaults["id"], defaults["prompt_tokens"], defaults["agent_tags"], defaults["is_error"]) == (bytes(16), None, (), False)
    assert (defaults["request_bytes"], defaults["usage_details"], defaults["service_name"]) == (0, {}, "")


def test_a_type_the_table_does_not_use_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown column type"):
        parse("Int128")
