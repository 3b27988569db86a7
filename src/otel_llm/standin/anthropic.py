"""A stand-in for the Anthropic Messages API: ``/v1/messages`` as JSON and as Server-Sent Events.

The scenario comes from a marker in the last user message, ``standin:<scenario>`` (for example
``"hello standin:cached"``), so any model name works and is echoed back, and real model names get
real prices.  Scenarios:

- ``text`` (default): a short text answer.
- ``cached``: 100 uncached input tokens, 2000 read from cache, 1000 written to the 5-minute and 500
  to the 1-hour cache.
- ``thinking``: a thinking block before the answer, with ``thinking_tokens`` in the usage.
- ``tool``: a ``tool_use`` block whose input streams as ``input_json_delta``.
- ``web_search``: a server tool use, counted in ``usage.server_tool_use``.
- ``error_400`` / ``error_401`` / ``error_429`` / ``error_500`` / ``error_529``: Anthropic's error body.
- ``stream_error``: a stream that sends an ``error`` event (overloaded) after its first text delta.
- ``slow``: every stream event is delayed.
- ``broken``: the stream's connection drops half-way through the body.

Vertex AI's ``:rawPredict`` / ``:streamRawPredict`` paths are answered the same way (model taken
from the path), so ``AnthropicVertex`` can be pointed here too.  Every id is ``msg_standin_...``
or ``toolu_standin_...`` and every text says it comes from a stand-in.  Ids are derived from the
request, so the same request gets the same response (what tests compare with and without
instrumentation).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from otel_llm.standin.server import JSONResponse, Request, SSEResponse, StandinServer

_MARKER = re.compile(r"standin:([a-z0-9_]+)")
_VERTEX_PATH = re.compile(r"/models/([^/:]+):(rawPredict|streamRawPredict)$")

ANSWER = "Hello from the otel-llm Anthropic stand-in."
_ERRORS = {
    400: ("invalid_request_error", "stand-in: the request is not valid"),
    401: ("authentication_error", "stand-in: invalid x-api-key"),
    429: ("rate_limit_error", "stand-in: rate limited"),
    500: ("api_error", "stand-in: internal server error"),
    529: ("overloaded_error", "stand-in: overloaded"),
}
SLOW_EVENT_DELAY_S = 0.05


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_standin"}


def _scenario(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not messages:
        return "text"
    content = messages[-1].get("content")
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    found = _MARKER.search(str(content))
    return found.group(1) if found else "text"


def _usage(scenario: str) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    }
    if scenario == "cached":
        usage.update(
            cache_read_input_tokens=2000,
            cache_creation_input_tokens=1500,
            cache_creation={"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 500},
        )
    elif scenario == "thinking":
        usage.update(output_tokens=300, output_tokens_details={"thinking_tokens": 250})
    elif scenario == "web_search":
        usage.update(output_tokens=40, server_tool_use={"web_search_requests": 2})
    return usage


def _content(scenario: str, request_key: str) -> tuple[list[dict[str, Any]], str]:
    """Content blocks and stop reason of the scenario's answer."""
    text = {"type": "text", "text": ANSWER}
    if scenario == "thinking":
        thinking = {"type": "thinking", "thinking": "Stand-in reasoning, step by step.", "signature": "sig_standin"}
        return [thinking, text], "end_turn"
    if scenario == "tool":
        tool = {
            "type": "tool_use",
            "id": f"toolu_standin_{request_key}",
            "name": "get_weather",
            "input": {"city": "Paris", "unit": "celsius"},
        }
        return [{"type": "text", "text": "Stand-in: calling a tool."}, tool], "tool_use"
    if scenario == "web_search":
        search = {
            "type": "server_tool_use",
            "id": f"srvtoolu_standin_{request_key}",
            "name": "web_search",
            "input": {"query": "stand-in"},
        }
        return [search, text], "end_turn"
    return [text], "end_turn"


def request_key(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


def make_message(model: str, scenario: str, key: str) -> dict[str, Any]:
    content, stop_reason = _content(scenario, key)
    return {
        "id": f"msg_standin_{key}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(scenario),
    }


def _event(name: str, data: dict[str, Any]) -> tuple[str, str]:
    return name, json.dumps({"type": name, **data})


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, str]]:
    """``content_block_start``, its deltas and ``content_block_stop`` for one finished block."""
    kind = block["type"]
    if kind == "text":
        start = {**block, "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _halves(block["text"])]
    elif kind == "thinking":
        start = {**block, "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": part} for part in _halves(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:  # tool_use, server_tool_use: the input arrives as partial JSON
        start = {**block, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in _halves(json.dumps(block["input"]))]
    events = [_event("content_block_start", {"index": index, "content_block": start})]
    events += [_event("content_block_delta", {"index": index, "delta": delta}) for delta in deltas]
    events.append(_event("content_block_stop", {"index": index}))
    return events


def stream_events(message: dict[str, Any], scenario: str) -> list[tuple[str, str]]:
    """The SSE events the API sends for ``message``: usage first in ``message_start``, final in ``message_delta``."""
    usage = message["usage"]
    start_usage = {key: value for key, value in usage.items() if key != "output_tokens_details"}
    start_usage["output_tokens"] = 1
    started = {**copy.deepcopy(message), "content": [], "stop_reason": None, "usage": start_usage}
    events = [_event("message_start", {"message": started}), ("ping", json.dumps({"type": "ping"}))]
    for index, block in enumerate(message["content"]):
        events += _block_events(index, block)
    if scenario == "stream_error":
        # After the first text delta: the caller has seen output when the error arrives.
        error = ("error", json.dumps(error_body(*_ERRORS[529])))
        return events[:4] + [error]
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(_event("message_delta", {"delta": delta, "usage": usage}))
    events.append(_event("message_stop", {}))
    return events


def handle(request: Request) -> JSONResponse | SSEResponse:
    body = request.body if isinstance(request.body, dict) else {}
    path = request.path.split("?", 1)[0]
    vertex = _VERTEX_PATH.search(path)
    if path == "/v1/messages/count_tokens" or path.endswith("count-tokens:rawPredict"):
        return JSONResponse({"input_tokens": 100})
    if path != "/v1/messages" and not vertex:
        return JSONResponse(error_body("not_found_error", f"stand-in: no route {path}"), status=404)
    scenario = _scenario(body)
    if scenario.startswith("error_") and int(scenario[6:]) in _ERRORS:
        status = int(scenario[6:])
        return JSONResponse(error_body(*_ERRORS[status]), status=status, headers={"request-id": "req_standin"})
    model = vertex.group(1) if vertex else str(body.get("model", "claude-standin"))
    key = request_key(body)
    message = make_message(model, scenario, key)
    headers = {"request-id": f"req_standin_{key}"}
    if not (body.get("stream") or (vertex and vertex.group(2) == "streamRawPredict")):
        return JSONResponse(message, headers=headers)
    events = stream_events(message, scenario)
    return SSEResponse(
        events,
        delay_s=SLOW_EVENT_DELAY_S if scenario == "slow" else 0.0,
        break_after=len(events) // 2 if scenario == "broken" else None,
        headers=headers,
    )


def anthropic_standin(port: int = 0) -> StandinServer:
    """A (not yet started) stand-in Anthropic API server on 127.0.0.1."""
    return StandinServer(handle, port, provider="anthropic")
