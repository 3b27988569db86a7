"""The payload stash is on exactly while an LLMTraceExporter is alive, and stays bounded."""

from otel_llm import LLMTraceExporter, payloads


def test_stash_follows_exporter_lifetime(chdb_url):
    assert not payloads.enabled()
    first, second = LLMTraceExporter(chdb_url, forward_to=None), LLMTraceExporter(chdb_url, forward_to=None)
    assert payloads.enabled()
    payloads.stash(1, 2, "otel_llm.request.json", {"messages": [{"role": "user", "content": "hi"}]})
    first.shutdown()
    assert payloads.enabled()  # the second exporter still wants payloads
    second.shutdown()
    first.shutdown()  # a second shutdown must not undo another exporter's enable
    assert not payloads.enabled()
    assert payloads.take(1, 2) is None  # the last exporter out dropped what was left


def test_stash_serializes_on_take_and_forgets_oldest_past_bound():
    payloads.enable()
    try:
        for span_id in range(payloads.MAX_SPANS + 5):
            payloads.stash(7, span_id, "otel_llm.response.json", {"id": span_id})
        assert payloads.take(7, 0) is None
        assert payloads.take(7, payloads.MAX_SPANS + 4) == {"otel_llm.response.json": '{"id":10004}'}
    finally:
        payloads.disable()
