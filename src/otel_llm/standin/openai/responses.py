"""Responses (``/v1/responses``), as JSON and as a stream of typed events."""

from __future__ import annotations

import itertools
import time
from typing import Any, Iterator

from otel_llm.standin.openai.scenarios import (
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


def _responses_usage(tags: set[str]) -> dict[str, Any]:
    n = usage_numbers(tags)
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


def responses(body: dict[str, Any], tags: set[str]) -> JSONResponse | SSEResponse:
    body = {**body, "_response_id": f"resp_standin_{next(ids)}", "_created": int(time.time())}
    text = JSON_TEXT if wants_json(body) else TEXT
    items = _output_items(tags, text)
    if body.get("stream"):
        return sse(list(_responses_events(body, tags, text, items)), tags)
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
        for word in words(text):
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
