"""Fixtures shared by every test module: a real OTel SDK pipeline and real ClickHouse stores."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.clickhouse_http import ClickHouseHTTP


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    return provider


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> MeterProvider:
    return MeterProvider(metric_readers=[metric_reader])


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own OTEL_LLM_HOME (default store, remote spools) and no global URL."""
    monkeypatch.setenv("OTEL_LLM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OTEL_LLM_CLICKHOUSE_URL", raising=False)
    monkeypatch.delenv("OTEL_LLM_TTL_DAYS", raising=False)
    # Spool tests must not depend on how full the machine's disk is; the reserve has its own test.
    monkeypatch.setenv("OTEL_LLM_SPOOL_MIN_FREE_BYTES", "0")
    # Store processes (one per embedded store a test uses) give their memory back soon.
    monkeypatch.setenv("OTEL_LLM_STORE_IDLE_S", "2")
    return tmp_path / "home"


@pytest.fixture
def chdb_url(tmp_path):
    return f"chdb://{tmp_path}/db"


@pytest.fixture
def clickhouse_http(tmp_path):
    """A ClickHouse HTTP endpoint (chDB in a child process); ``.stop()``/``.start()`` it at will."""
    server = ClickHouseHTTP(tmp_path / "server-data")
    server.start()
    yield server
    server.stop()
