"""What the OpenAI stand-in's answers share: the scenario tags read from a request, the canned
content, token counts, errors and Server-Sent Events."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from otel_llm.standin.server import JSONResponse, SSEResponse

TEXT = "Hello from the otel-llm stand-in, not a real model."
JSON_TEXT = json.dumps({"answer": "otel-llm stand-in"})
FINGERPRINT = "otel-llm-standin"
SLOW_S = 0.05
BREAK_AFTER = 3
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "Paris"}'

_TAG = re.compile(r"\[([a-z_]+(?::\d+)?)\]")
ids = itertools.count(1)


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


def tags_of(body: dict[str, Any]) -> set[str]:
    return set(_TAG.findall(_prompt_text(body)))


def wants_json(body: dict[str, Any]) -> bool:
    chat_format = body.get("response_format") or {}
    text_format = (body.get("text") or {}).get("format") or {}
    return chat_format.get("type") in ("json_schema", "json_object") or text_format.get("type") in (
        "json_schema",
        "json_object",
    )


def error_response(status: int) -> JSONResponse:
    kinds = {
        400: ("invalid_request_error", "invalid_value", "Stand-in: the request was rejected."),
        401: ("invalid_request_error", "invalid_api_key", "Stand-in: incorrect API key provided."),
        429: ("rate_limit_exceeded", "rate_limit_exceeded", "Stand-in: rate limit reached."),
    }
    kind, code, message = kinds.get(status, ("server_error", "server_error", "Stand-in: the server had an error."))
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def usage_numbers(tags: set[str]) -> dict[str, int]:
    prompt = 2048 if "cached" in tags else 20
    cached = 1536 if "cached" in tags else 0
    reasoning = 100 if "reasoning" in tags else 0
    return {"input": prompt, "cached": cached, "output": 10 + reasoning, "reasoning": reasoning}


def sse(events: list[tuple[str | None, Any]], tags: set[str]) -> SSEResponse:
    encoded = [(name, data if isinstance(data, str) else json.dumps(data)) for name, data in events]
    return SSEResponse(
        encoded,
        delay_s=SLOW_S if "slow" in tags else 0.0,
        break_after=BREAK_AFTER if "break" in tags else None,
    )


def words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)
