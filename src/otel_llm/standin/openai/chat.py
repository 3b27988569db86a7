"""Chat Completions (``/v1/chat/completions``), as JSON and as a stream of chunks."""

from __future__ import annotations

import time
from typing import Any

from otel_llm.standin.openai.scenarios import (
    BREAK_AFTER,
    FINGERPRINT,
    JSON_TEXT,
    TEXT,
    TOOL_ARGUMENTS,
    TOOL_NAME,
    ids,
    sse,
    usage_numbers,
    wants_json,
    words,
)
from otel_llm.standin.server import JSONResponse, SSEResponse


def _finish_reason(tags: set[str]) -> str:
    for reason in ("tool_call", "length", "content_filter"):
        if reason in tags:
            return "tool_calls" if reason == "tool_call" else reason
    return "stop"


def _chat_usage(tags: set[str]) -> dict[str, Any]:
    n = usage_numbers(tags)
    return {
        "prompt_tokens": n["input"],
        "completion_tokens": n["output"],
        "total_tokens": n["input"] + n["output"],
        "prompt_tokens_details": {"cached_tokens": n["cached"], "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": n["reasoning"],
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat(body: dict[str, Any], tags: set[str]) -> JSONResponse | SSEResponse:
    n = int(body.get("n") or 1)
    text = JSON_TEXT if wants_json(body) else TEXT
    head = {
        "id": f"chatcmpl-standin-{next(ids)}",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "system_fingerprint": FINGERPRINT,
        "service_tier": "default",
    }
    if body.get("stream"):
        return _chat_stream(head, body, tags, n, text)
    choices: Any = [_chat_choice(i, n, text, tags) for i in range(n)]
    if "odd_shape" in tags:
        choices = 5
    return JSONResponse({**head, "object": "chat.completion", "choices": choices, "usage": _chat_usage(tags)})


def _chat_choice(index: int, n: int, text: str, tags: set[str]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": _choice_text(index, n, text), "refusal": None}
    if "tool_call" in tags:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_standin_{index}",
                "type": "function",
                "function": {"name": TOOL_NAME, "arguments": TOOL_ARGUMENTS},
            }
        ]
    return {"index": index, "message": message, "finish_reason": _finish_reason(tags), "logprobs": None}


def _choice_text(index: int, n: int, text: str) -> str:
    return text if n == 1 else f"{text} (choice {index})"


def _chat_stream(head: dict[str, Any], body: dict[str, Any], tags: set[str], n: int, text: str) -> SSEResponse:
    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
        return None, {**head, "object": "chat.completion.chunk", "choices": [choice]}

    events: list[tuple[str | None, Any]] = []
    for index in range(n):
        events.append(chunk(index, {"role": "assistant", "content": ""}))
        if "tool_call" in tags:
            call = {
                "index": 0,
                "id": f"call_standin_{index}",
                "type": "function",
                "function": {"name": TOOL_NAME, "arguments": ""},
            }
            events.append(chunk(index, {"tool_calls": [call]}))
            for piece in (TOOL_ARGUMENTS[:9], TOOL_ARGUMENTS[9:]):
                events.append(chunk(index, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            events.extend(chunk(index, {"content": word}) for word in words(_choice_text(index, n, text)))
    if "azure_filter" in tags:
        verdict = {"hate": {"filtered": False, "severity": "safe"}}
        events.insert(
            0,
            (
                None,
                {
                    "id": "",
                    "object": "",
                    "created": 0,
                    "model": "",
                    "choices": [],
                    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": verdict}],
                },
            ),
        )
        events.append(
            (
                None,
                {
                    **head,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "finish_reason": None, "content_filter_results": verdict}],
                },
            )
        )
    if "midstream_error" in tags:
        error = {
            "error": {
                "message": "Stand-in: the model stopped mid-stream.",
                "type": "server_error",
                "code": "server_error",
            }
        }
        events.insert(BREAK_AFTER, (None, error))
    events.extend(chunk(index, {}, _finish_reason(tags)) for index in range(n))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append((None, {**head, "object": "chat.completion.chunk", "choices": [], "usage": _chat_usage(tags)}))
    events.append((None, "[DONE]"))
    return sse(events, tags)
