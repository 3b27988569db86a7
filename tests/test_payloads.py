"""Full payloads kept with a span: read by every exporter of it, serialized and redacted once."""

import threading

from opentelemetry.sdk.trace import TracerProvider

from otel_llm import payloads, redaction


def test_kept_payloads_are_serialized_once_for_every_reader():
    calls: list[str] = []

    def counting(text: str) -> str:
        calls.append(text)
        return text + "!"  # not idempotent: a second pass would show

    span = TracerProvider().get_tracer("test").start_span("chat")
    payloads.keep(span, {"otel_llm.request.config": '{"max_tokens":5}'}, {"otel_llm.request.json": {"n": 1}})
    span.end()
    redaction.set_redactor(counting)
    try:
        readable = span._readable_span()  # what each exporter gets: a copy sharing the attributes
        results: list = []
        threads = [threading.Thread(target=lambda: results.append(payloads.full_payloads(readable))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        redaction.set_redactor(None)
    expected = {"otel_llm.request.config": '{"max_tokens":5}', "otel_llm.request.json": '{"n":1}!'}
    assert results == [expected] * 4
    assert calls == ['{"n":1}']  # the ready text was redacted when written; the object once


def test_a_span_without_kept_payloads_has_none():
    span = TracerProvider().get_tracer("test").start_span("chat")
    assert payloads.full_payloads(span) is None


def test_sdk_models_serialize_to_what_was_set_with_text_as_is():
    import json

    from openai.types.chat import ChatCompletion

    body = {
        "id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o", "extra_field": {"x": [1, 2.5e-05]},
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": 'héllo ✓ "q"\n'}}],
    }  # fmt: skip
    model = ChatCompletion.model_validate(body)
    text = payloads.to_json(model)
    assert json.loads(text) == body  # unset fields (usage, refusal, ...) left out, extras kept
    assert "héllo ✓" in text and ": " not in text  # UTF-8 as it is, compact
