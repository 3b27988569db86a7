"""Exporter tests construct LLMTraceExporters, and each one turns the process-wide payload stash on
(``payloads.enable()`` has no counterpart yet); instrumentors then stop putting payloads on spans.
Put the stash back after each test so other test modules see the default."""

from __future__ import annotations

import pytest

from otel_llm import payloads


@pytest.fixture(autouse=True)
def restore_payload_stash():
    before = payloads._max_spans
    yield
    payloads._max_spans = before
    payloads._by_span.clear()
