"""Spool files keep their format: rows are written as plain tuples (as before rows were named) and
load as ``Row``s, and nothing but row data is read."""

from __future__ import annotations

import pickle

import pytest

from otel_llm.storage import rowfile, values
from otel_llm.storage.columns import Row

from tests.rows import make_row


def test_rows_written_as_plain_tuples_load_as_named_rows() -> None:
    row = values.as_row(make_row(1))
    older = pickle.dumps([tuple(row)], rowfile.PROTOCOL)  # what a spool file held before Row
    newer = rowfile.dumps([row])
    assert newer == older  # the format is unchanged
    loaded = rowfile.load_rows(older + newer)
    assert [type(back) for back in loaded] == [Row, Row]
    assert loaded == [row, row] and loaded[0].request_json == row.request_json


def test_a_spool_file_naming_another_class_is_refused() -> None:
    with pytest.raises(ValueError, match="not a row value"):
        rowfile.load_rows(pickle.dumps([pytest.raises]))
