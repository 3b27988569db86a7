"""Stream handlers: watch OpenAI chunks / events cheaply, assemble the outcome when the stream ends.

``on_chunk`` runs once per chunk on the caller's thread, so it only keeps references (a list
append and an attribute read or two); all parsing happens once, in ``finish``.
"""

from __future__ import annotations

from typing import Any

from otel_llm import attributes as attr
from otel_llm.instrumentation.call import LLMCall
from otel_llm.openai import extract
from otel_llm.usage import from_openai_chat


class ChatStreamHandler:
    """Chat Completions chunks.

    ``hide_usage_chunk``: we asked for ``stream_options.include_usage`` on the caller's behalf,
    so the usage-only chunk (empty ``choices``) that answers it is ours, not theirs.
    ``assemble``: build the full ``ChatCompletion``-shaped response for the payload attributes
    (only needed when content is captured).
    """

    __slots__ = ("_chunks", "_usage", "_hide_usage_chunk", "_assemble")

    def __init__(self, *, hide_usage_chunk: bool, assemble: bool) -> None:
        self._chunks: list[Any] = []
        self._usage: Any = None
        self._hide_usage_chunk = hide_usage_chunk
        self._assemble = assemble

    def on_chunk(self, chunk: Any) -> bool:
        usage = chunk.usage
        if usage is None:
            self._chunks.append(chunk)
            return True
        self._usage = usage
        if chunk.choices:
            self._chunks.append(chunk)
            return True
        return not self._hide_usage_chunk

    def finish(self, call: LLMCall, error: BaseException | None) -> None:
        chunks = self._chunks
        usage = from_openai_chat(self._usage) if self._usage is not None else None
        reasons: dict[int, str] = {}
        for chunk in chunks:
            for choice in chunk.choices or ():
                reason = getattr(choice, "finish_reason", None)
                if reason:
                    reasons[choice.index] = reason
        response = _assemble_chat(chunks, reasons, self._usage) if self._assemble and chunks else None
        if error is not None:
            call.fail(error, response=response, usage=usage)
            return
        head = _head(chunks)
        call.finish(
            response=response,
            usage=usage,
            response_model=head.model if head is not None else None,
            response_id=head.id if head is not None else None,
            finish_reasons=[reasons[index] for index in sorted(reasons)],
            attributes=extract.response_attributes(chunks[-1]) if chunks else None,
        )


def _head(chunks: list[Any]) -> Any:
    """The first real chunk: Azure OpenAI opens with a content-filter chunk without id or model."""
    return next((chunk for chunk in chunks if chunk.model), chunks[0] if chunks else None)


def _assemble_chat(chunks: list[Any], reasons: dict[int, str], usage: Any) -> dict[str, Any]:
    """The ``ChatCompletion`` the chunks add up to, as a wire-format dict."""
    texts: dict[int, list[str]] = {}
    roles: dict[int, str] = {}
    tool_calls: dict[int, dict[int, dict[str, Any]]] = {}
    for chunk in chunks:
        for choice in chunk.choices or ():
            delta = getattr(choice, "delta", None)  # absent in Azure content-filter chunks
            if delta is None:
                continue
            index = choice.index
            if delta.role:
                roles[index] = delta.role
            if delta.content:
                texts.setdefault(index, []).append(delta.content)
            for call in delta.tool_calls or ():
                entry = tool_calls.setdefault(index, {}).setdefault(
                    call.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                )
                if call.id:
                    entry["id"] = call.id
                if call.function is not None:
                    entry["function"]["name"] += call.function.name or ""
                    entry["function"]["arguments"] += call.function.arguments or ""
    choices = []
    for index in sorted(set(roles) | set(texts) | set(tool_calls) | set(reasons)):
        message: dict[str, Any] = {
            "role": roles.get(index, "assistant"),
            "content": "".join(texts.get(index, ())) or None,
        }
        if index in tool_calls:
            message["tool_calls"] = [tool_calls[index][i] for i in sorted(tool_calls[index])]
        choices.append({"index": index, "message": message, "finish_reason": reasons.get(index)})
    head = _head(chunks)
    return {
        "id": head.id,
        "object": "chat.completion",
        "created": head.created,
        "model": head.model,
        "system_fingerprint": chunks[-1].system_fingerprint,
        "choices": choices,
        "usage": usage,
    }


# Events whose ``response`` is the latest snapshot of the whole response.
_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)


class ResponsesStreamHandler:
    """Responses API events: the last lifecycle event's ``response`` carries model, id, usage."""

    __slots__ = ("_response", "_error_event")

    def __init__(self) -> None:
        self._response: Any = None
        self._error_event: Any = None

    def on_chunk(self, event: Any) -> bool:
        kind = event.type
        if kind in _RESPONSE_EVENTS:
            self._response = event.response
        elif kind == "error":
            self._error_event = event
        return True

    def finish(self, call: LLMCall, error: BaseException | None) -> None:
        response = self._response
        if error is not None:
            usage = extract.responses_outcome(response)["usage"] if response is not None else None
            call.fail(error, response=response, usage=usage)
            return
        outcome = extract.responses_outcome(response) if response is not None else {}
        event = self._error_event
        if event is not None and not outcome.get("error_type"):
            # An ``error`` event ends the stream without a terminal response.
            outcome["error_type"] = event.code or "error"
            outcome["attributes"] = {**(outcome.get("attributes") or {}), attr.ERROR_MESSAGE: event.message or ""}
        call.finish(response=response, **outcome)
