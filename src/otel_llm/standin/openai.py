"""A stand-in for the OpenAI API: Chat Completions, Responses and Embeddings, JSON and SSE.

Scenarios are chosen by tags in the prompt's text (last user message, or the ``input``), so a
test reads like what it checks::

    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[tool_call] weather?"}])

Tags (combinable):

- ``[tool_call]``        the assistant calls ``get_weather`` (finish reason ``tool_calls``)
- ``[length]``           output cut by the token limit (Responses: ``incomplete`` / ``max_output_tokens``)
- ``[content_filter]``   output filtered (Responses: ``incomplete`` / ``content_filter``)
- ``[failed]``           Responses only: the stream ends with ``response.failed``
- ``[cached]``           2048 prompt tokens, 1536 of them cache reads
- ``[reasoning]``        100 reasoning tokens inside the output
- ``[error:429]``        HTTP error with OpenAI's error body (any status)
- ``[slow]``             50 ms before the response / between stream events
- ``[break]``            the stream's connection drops after three events
- ``[midstream_error]``  an error event after three events
- ``[odd_shape]``        a well-formed HTTP response whose ``choices``/``output`` is not a list
- ``[azure_filter]``     chat streams carry Azure OpenAI's content-filter chunks (no id, no delta)

Structured-output requests (``response_format`` / ``text.format`` of JSON type) get a JSON answer
``{"answer": "..."}``.  ``n`` > 1 yields that many choices.  Everything is labelled as stand-in
content (ids ``*-standin-*``, ``system_fingerprint`` ``otel-llm-standin``).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import struct
import time
from typing import Any, Iterator

from otel_llm.standin.server import JSONResponse, Request, SSEResponse, StandinServer

TEXT = "Hello from the otel-llm stand-in, not a real model."
JSON_TEXT = json.dumps({"answer": "otel-llm stand-in"})
FINGERPRINT = "otel-llm-standin"
SLOW_S = 0.05
BREAK_AFTER = 3
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "Paris"}'

_TAG = re.compile(r"\[([a-z_]+(?::\d+)?)\]")
_ids = itertools.count(1)


def openai_standin(port: int = 0) -> StandinServer:
    """A not-yet-started server answering like ``https://api.openai.com`` under ``/v1``."""
    return StandinServer(handle, port, provider="openai")


def handle(request: Request) -> JSONResponse | SSEResponse:
    body = request.body if isinstance(request.body, dict) else {}
    path = request.path.split("?", 1)[0]
    tags = _tags(body)
    if "slow" in tags and not body.get("stream"):
        time.sleep(SLOW_S)
    status = next((int(tag.split(":")[1]) for tag in tags if tag.startswith("error:")), None)
    if status is not None:
        return _error(status)
    if path.endswith("/chat/completions"):
        return _chat(body, tags)
    if path.endswith("/responses"):
        return _responses(body, tags)
    if path.endswith("/embeddings"):
        return _embeddings(body)
    return JSONResponse({"error": {"message": f"stand-in has no route {path}", "type": "invalid_request_error"}}, 404)


# --- request reading --------------------------------------------------------------------------


def _prompt_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        return _text_of(users[-1].get("content")) if users else ""
    return _text_of(body.get("input"))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            _text_of(part.get("text") or part.get("content")) if isinstance(part, dict) else _text_of(part)
            for part in content
        )
    return ""


def _tags(body: dict[str, Any]) -> set[str]:
    return set(_TAG.findall(_prompt_text(body)))


def _wants_json(body: dict[str, Any]) -> bool:
    chat_format = body.get("response_format") or {}
    text_format = (body.get("text") or {}).get("format") or {}
    return chat_format.get("type") in ("json_schema", "json_object") or text_format.get("type") in (
        "json_schema",
        "json_object",
    )


def _error(status: int) -> JSONResponse:
    kinds = {
        400: ("invalid_request_error", "invalid_value", "Stand-in: the request was rejected."),
        401: ("invalid_request_error", "invalid_api_key", "Stand-in: incorrect API key provided."),
        429: ("rate_limit_exceeded", "rate_limit_exceeded", "Stand-in: rate limit reached."),
    }
    kind, code, message = kinds.get(status, ("server_error", "server_error", "Stand-in: the server had an error."))
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def _usage_numbers(tags: set[str]) -> dict[str, int]:
    prompt = 2048 if "cached" in tags else 20
    cached = 1536 if "cached" in tags else 0
    reasoning = 100 if "reasoning" in tags else 0
    return {"input": prompt, "cached": cached, "output": 10 + reasoning, "reasoning": reasoning}


def _sse(events: list[tuple[str | None, Any]], tags: set[str]) -> SSEResponse:
    encoded = [(name, data if isinstance(data, str) else json.dumps(data)) for name, data in events]
    return SSEResponse(
        encoded,
        delay_s=SLOW_S if "slow" in tags else 0.0,
        break_after=BREAK_AFTER if "break" in tags else None,
    )


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


# --- chat completions -------------------------------------------------------------------------


def _finish_reason(tags: set[str]) -> str:
    for reason in ("tool_call", "length", "content_filter"):
        if reason in tags:
            return "tool_calls" if reason == "tool_call" else reason
    return "stop"


def _chat_usage(tags: set[str]) -> dict[str, Any]:
    n = _usage_numbers(tags)
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


def _chat(body: dict[str, Any], tags: set[str]) -> JSONResponse | SSEResponse:
    n = int(body.get("n") or 1)
    text = JSON_TEXT if _wants_json(body) else TEXT
    head = {
        "id": f"chatcmpl-standin-{next(_ids)}",
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
            events.extend(chunk(index, {"content": word}) for word in _words(_choice_text(index, n, text)))
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
    return _sse(events, tags)


# --- responses --------------------------------------------------------------------------------


def _responses_usage(tags: set[str]) -> dict[str, Any]:
    n = _usage_numbers(tags)
    return {
        "input_tokens": n["input"],
        "input_tokens_details": {"cached_tokens": n["cached"]},
        "output_tokens": n["output"],
        "output_tokens_details": {"reasoning_tokens": n["reasoning"]},
        "total_tokens": n["input"] + n["output"],
    }


def _response_object(body: dict[str, Any], status: str, output: Any, tags: set[str] | None) -> dict[str, Any]:
    incomplete = None
    error = None
    if status == "incomplete":
        reason = "content_filter" if tags and "content_filter" in tags else "max_output_tokens"
        incomplete = {"reason": reason}
    if status == "failed":
        error = {"code": "server_error", "message": "Stand-in: the response failed."}
    return {
        "id": body["_response_id"],
        "object": "response",
        "created_at": body["_created"],
        "status": status,
        "model": body.get("model", "unknown"),
        "output": output,
        "instructions": body.get("instructions"),
        "incomplete_details": incomplete,
        "error": error,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "tool_choice": "auto",
        "tools": body.get("tools", []),
        "service_tier": "default",
        "usage": _responses_usage(tags) if tags is not None else None,
    }


def _final_status(tags: set[str]) -> str:
    if "failed" in tags:
        return "failed"
    if "length" in tags or "content_filter" in tags:
        return "incomplete"
    return "completed"


def _output_items(tags: set[str], text: str) -> list[dict[str, Any]]:
    if "tool_call" in tags:
        return [
            {
                "type": "function_call",
                "id": "fc_standin_1",
                "call_id": "call_standin_1",
                "name": TOOL_NAME,
                "arguments": TOOL_ARGUMENTS,
                "status": "completed",
            }
        ]
    return [
        {
            "type": "message",
            "id": "msg_standin_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
    ]


def _responses(body: dict[str, Any], tags: set[str]) -> JSONResponse | SSEResponse:
    body = {**body, "_response_id": f"resp_standin_{next(_ids)}", "_created": int(time.time())}
    text = JSON_TEXT if _wants_json(body) else TEXT
    items = _output_items(tags, text)
    if body.get("stream"):
        return _sse(list(_responses_events(body, tags, text, items)), tags)
    output: Any = 5 if "odd_shape" in tags else items
    return JSONResponse(_response_object(body, _final_status(tags), output, tags))


def _responses_events(
    body: dict[str, Any], tags: set[str], text: str, items: list[dict[str, Any]]
) -> Iterator[tuple[str, Any]]:
    sequence = itertools.count()

    def event(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        return kind, {"type": kind, "sequence_number": next(sequence), **fields}

    yield event("response.created", response=_response_object(body, "in_progress", [], None))
    yield event("response.in_progress", response=_response_object(body, "in_progress", [], None))
    item = items[0]
    started = {**item, "status": "in_progress"}
    if item["type"] == "message":
        started["content"] = []
        yield event("response.output_item.added", output_index=0, item=started)
        part = {"type": "output_text", "text": "", "annotations": []}
        yield event("response.content_part.added", item_id=item["id"], output_index=0, content_index=0, part=part)
        if "midstream_error" in tags:
            yield event("error", code="server_error", message="Stand-in: the model stopped mid-stream.", param=None)
            return
        for word in _words(text):
            yield event(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                delta=word,
                logprobs=[],
            )
        yield event(
            "response.output_text.done", item_id=item["id"], output_index=0, content_index=0, text=text, logprobs=[]
        )
        yield event(
            "response.content_part.done", item_id=item["id"], output_index=0, content_index=0, part=item["content"][0]
        )
    else:
        started["arguments"] = ""
        yield event("response.output_item.added", output_index=0, item=started)
        yield event("response.function_call_arguments.delta", item_id=item["id"], output_index=0, delta=TOOL_ARGUMENTS)
        yield event(
            "response.function_call_arguments.done",
            item_id=item["id"],
            output_index=0,
            arguments=TOOL_ARGUMENTS,
            name=TOOL_NAME,
        )
    yield event("response.output_item.done", output_index=0, item=item)
    status = _final_status(tags)
    yield event(f"response.{status}", response=_response_object(body, status, items, tags))


# --- embeddings -------------------------------------------------------------------------------


def _embeddings(body: dict[str, Any]) -> JSONResponse:
    inputs = body.get("input")
    texts = inputs if isinstance(inputs, list) else [inputs]
    dimensions = int(body.get("dimensions") or 8)
    data = []
    for index in range(len(texts)):
        vector = [round(0.1 * (index + 1) + 0.01 * d, 4) for d in range(dimensions)]
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = 5 * len(texts)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": body.get("model", "unknown"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
