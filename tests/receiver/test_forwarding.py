"""--forward-endpoint: spans go on over OTLP after the rows are written, slimmed by the exporter's
own offload rules.  The downstream here is a second receiver whose exporter just keeps spans."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm import attributes as attr
from otel_llm.exporter import LLMTraceExporter
from otel_llm.receiver import Receiver, ReceiverConfig
from otel_llm.receiver.server import forwarder

from .conftest import RowSink, Running
from .payloads import llm_spans, protobuf_body


def test_forwarded_spans_are_slimmed_like_the_exporter_does(monkeypatch) -> None:
    monkeypatch.setenv("OTEL_LLM_OFFLOAD_THRESHOLD_BYTES", "16")
    monkeypatch.setenv("OTEL_LLM_OFFLOAD_PREVIEW_CHARS", "8")
    downstream_spans = InMemorySpanExporter()
    downstream = Receiver(ReceiverConfig(http_port=0, grpc_port=None), downstream_spans).start()
    sink = RowSink()
    config = ReceiverConfig(
        http_port=0,
        grpc_port=None,
        forward_endpoint=f"http://127.0.0.1:{downstream.http_port}/v1/traces",
    )
    receiver = Receiver(config, LLMTraceExporter(writer=sink, forward_to=forwarder(config))).start()
    try:
        status, _, _ = Running(receiver, sink).post(protobuf_body(2), {"authorization": ""})
        assert status == 200
    finally:
        receiver.stop()
        downstream.stop()
    [row, _] = sink.rows
    forwarded = downstream_spans.get_finished_spans()
    assert len(forwarded) == 2
    request_json = llm_spans(1)[0].attributes[attr.REQUEST_JSON]
    assert len(request_json) > 16
    for span in forwarded:
        # The payload became a preview plus a pointer to the row holding it whole.
        assert span.attributes[attr.REQUEST_JSON] == request_json[:8]
        assert span.attributes[attr.REQUEST_JSON + attr.PAYLOAD_OFFLOADED_BYTES_SUFFIX] == len(request_json)
        assert span.attributes[attr.PAYLOAD_REF_ROW_ID]
        assert span.attributes[attr.USAGE_INPUT_TOKENS] == 1200
    assert json.loads(row["request_json"]) == json.loads(request_json)
