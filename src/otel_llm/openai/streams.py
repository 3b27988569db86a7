"""Stream handlers: watch OpenAI chunks / events cheaply, assemble the outcome when the stream ends.

``on_chunk`` runs once per chunk on the caller's thread.  It keeps no chunk alive beyond the first
and last ones: a stream's worth of SDK models held until the end would survive into the garbage
collector's older generations, and the collections that walk them cost more than taking out, as
they arrive, the few strings the outcome needs (strings are not tracked by the collector).
Everything else (usage, the assembled response) happens once, in ``outcome``, when the stream ends.
"""

from __future__ import annotations

from typing import Any

from otel_llm import attributes as attr
from otel_llm.instrumentation.call import NOTHING, Outcome
from otel_llm.openai import extract
from otel_llm.usage import from_openai_chat, get


class _ChoiceParts:
    """What one choice's deltas add up to, as string pieces joined at the end."""

    __slots__ = ("role", "texts", "tool_calls")

    def __init__(self) -> None:
        self.role: str | None = None
        self.texts: list[str] = []
        # tool call index -> [id, name pieces, argument pieces]
        self.tool_calls: dict[int, list[Any]] = {}

    def add_tool_calls(self, calls: Any) -> None:
        for call in calls:
            entry = self.tool_calls.get(call.index)
            if entry is None:
                entry = self.tool_calls[call.index] = [None, [], []]
            if call.id:
                entry[0] = call.id
            function = call.function
            if function is not None:
                entry[1].append(function.name or "")
                entry[2].append(function.arguments or "")

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role or "assistant", "content": "".join(self.texts) or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": "".join(name), "arguments": "".join(arguments)}}
                for call_id, name, arguments in (self.tool_calls[i] for i in sorted(self.tool_calls))
            ]
        return message


class ChatStreamHandler:
    """Chat Completions chunks.

    ``hide_usage_chunk``: we asked for ``stream_options.include_usage`` on the caller's behalf,
    so the usage-only chunk (empty ``choices``) that answers it is ours, not theirs.
    ``assemble``: collect the pieces of the full ``ChatCompletion``-shaped response for the
    payload attributes (only needed when content is captured).
    """

    __slots__ = ("_first", "_head", "_last", "_usage", "_reasons", "_parts", "_hide_usage_chunk")

    def __init__(self, *, hide_usage_chunk: bool, assemble: bool) -> None:
        self._first: Any = None
        # The first chunk with a model: Azure OpenAI opens with a content-filter chunk without id or model.
        self._head: Any = None
        self._last: Any = None
        self._usage: Any = None
        self._reasons: dict[int, str] = {}
        self._parts: dict[int, _ChoiceParts] | None = {} if assemble else None
        self._hide_usage_chunk = hide_usage_chunk

    def on_chunk(self, chunk: Any) -> bool:
        choices = chunk.choices
        usage = chunk.usage
        if usage is not None:
            self._usage = usage
            if not choices:
                return not self._hide_usage_chunk
        if self._head is None:
            if self._first is None:
                self._first = chunk
            if chunk.model:
                self._head = chunk
        self._last = chunk
        parts = self._parts
        for choice in choices or ():
            reason = getattr(choice, "finish_reason", None)
            if reason:
                self._reasons[choice.index] = reason
            if parts is None:
                continue
            delta = getattr(choice, "delta", None)  # absent in Azure content-filter chunks
            if delta is None:
                continue
            content, role, tool_calls = delta.content, delta.role, delta.tool_calls
            if not (content or role or tool_calls):
                continue
            part = parts.get(choice.index)
            if part is None:
                part = parts[choice.index] = _ChoiceParts()
            if content:
                part.texts.append(content)
            if role:
                part.role = role
            if tool_calls:
                part.add_tool_calls(tool_calls)
        return True

    def outcome(self) -> Outcome:
        tier = get(self._last, "service_tier")
        usage = extract.with_service_tier(from_openai_chat(self._usage), tier) if self._usage is not None else None
        reasons = self._reasons
        head = self._head or self._first
        return Outcome(
            response=self._assembled(head) if self._parts is not None and head is not None else None,
            usage=usage,
            response_model=head.model if head is not None else None,
            response_id=head.id if head is not None else None,
            finish_reasons=[reasons[index] for index in sorted(reasons)],
            attributes=extract.response_attributes(self._last) if self._last is not None else None,
        )

    def _assembled(self, head: Any) -> dict[str, Any]:
        """The ``ChatCompletion`` the chunks add up to, as a wire-format dict."""
        parts = self._parts or {}
        reasons = self._reasons
        choices = []
        for index in sorted(set(parts) | set(reasons)):
            part = parts.get(index)
            message = part.message() if part is not None else {"role": "assistant", "content": None}
            choices.append({"index": index, "message": message, "finish_reason": reasons.get(index)})
        return {
            "id": head.id,
            "object": "chat.completion",
            "created": head.created,
            "model": head.model,
            "system_fingerprint": self._last.system_fingerprint,
            "choices": choices,
            "usage": self._usage,
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

    def outcome(self) -> Outcome:
        response = self._response
        outcome = extract.responses_outcome(response) if response is not None else NOTHING
        event = self._error_event
        if event is not None and not outcome.error_type:
            # An ``error`` event ends the stream without a terminal response.
            attributes = {**(outcome.attributes or {}), attr.ERROR_MESSAGE: event.message or ""}
            outcome = outcome._replace(error_type=event.code or "error", attributes=attributes)
        return outcome
