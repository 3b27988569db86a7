"""exporters/otel-collector.yaml: stock components only, wired to otel-llm serve with the token."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

CONFIG = Path(__file__).parents[2] / "exporters" / "otel-collector.yaml"
STOCK = {"otlp", "batch", "otlphttp"}  # in the core collector distribution


def test_pipeline_uses_stock_components_and_points_at_serve() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    pipeline = config["service"]["pipelines"]["traces"]
    for section, names in (("receivers", pipeline["receivers"]), ("processors", pipeline["processors"]),
                           ("exporters", pipeline["exporters"])):
        for name in names:
            assert name in config[section], f"{name} used but not defined in {section}"
            assert name.split("/")[0] in STOCK
    exporter = config["exporters"][pipeline["exporters"][0]]
    assert exporter["endpoint"] == "http://127.0.0.1:4318"
    assert exporter["headers"]["Authorization"] == "Bearer ${env:OTEL_LLM_RECEIVER_TOKEN}"
