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


def test_stash_works_in_a_child_forked_while_another_thread_held_its_lock():
    import os
    import threading
    import time

    payloads.enable()
    payloads.stash(7, 7, "otel_llm.request.json", "the parent's")
    held, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with payloads._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(10)
    pid = os.fork()
    if pid == 0:  # the holder thread does not exist here; its lock must not be held for good
        payloads.stash(1, 2, "otel_llm.request.json", "{}")
        os._exit(0 if payloads.take(1, 2) == {"otel_llm.request.json": "{}"} and payloads.take(7, 7) is None else 1)
    try:
        deadline = time.monotonic() + 20
        while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        if done == (0, 0):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        assert done != (0, 0), "the child hung on the payload stash's lock"
        assert os.waitstatus_to_exitcode(done[1]) == 0
    finally:
        release.set()
        holder.join()
        payloads.disable()


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
