"""Time added per streamed chat chunk by the OpenAI instrumentation (target: <= 3 us).

Iterates pre-built ``ChatCompletionChunk`` objects through our stream proxy and handler and
compares with iterating them bare, so only our per-chunk work is measured (no HTTP, no SSE).

    python benchmarks/openai_stream_overhead.py
"""

from __future__ import annotations

import time

from openai.types.chat import ChatCompletionChunk
from opentelemetry.sdk.trace import TracerProvider

from otel_llm.instrumentation.call import LLMCall
from otel_llm.instrumentation.streams import SyncStreamProxy
from otel_llm.instrumentation.telemetry import Telemetry
from otel_llm.openai.patch import CHAT
from otel_llm.openai.streams import ChatStreamHandler

CHUNKS = 2_000
ROUNDS = 50


def chunk(index: int) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": f"tok{index} "}, "finish_reason": None}],
        }
    )


class FakeStream:
    """Just enough of ``openai.Stream`` for the proxy: iteration and close."""

    def __init__(self, items: list[ChatCompletionChunk]) -> None:
        self._iterator = iter(items)

    def __next__(self) -> ChatCompletionChunk:
        return next(self._iterator)

    def close(self) -> None:
        pass


def run(items: list[ChatCompletionChunk], telemetry: Telemetry | None) -> float:
    stream: object = FakeStream(items)
    if telemetry is not None:
        call = LLMCall(
            telemetry,
            operation="chat",
            provider="openai",
            request_model="gpt-4o-mini",
            request={},
            spec=CHAT.spec,
            stream=True,
        )
        stream = SyncStreamProxy(
            stream, call, ChatStreamHandler(hide_usage_chunk=True, assemble=telemetry.capture_content)
        )
    started = time.perf_counter()
    while True:
        try:
            next(stream)  # type: ignore[call-overload]
        except StopIteration:
            break
    return time.perf_counter() - started


def main() -> None:
    items = [chunk(i) for i in range(CHUNKS)]
    telemetry = Telemetry.create("bench", tracer_provider=TracerProvider())
    bare = min(run(items, None) for _ in range(ROUNDS))
    traced = min(run(items, telemetry) for _ in range(ROUNDS))
    print(f"bare:   {bare / CHUNKS * 1e6:.2f} us/chunk")
    print(f"traced: {traced / CHUNKS * 1e6:.2f} us/chunk (includes the end-of-stream assembly)")
    print(f"added:  {(traced - bare) / CHUNKS * 1e6:.2f} us/chunk")


if __name__ == "__main__":
    main()
