"""Watching Anthropic responses whose body the caller reads after the call returned.

- :class:`MessageEventsHandler` reads the raw events of a streamed Message for the core's stream
  proxies.  It watches the SDK's ``Stream`` of raw events, which every helper reads through
  (``MessageStream`` iteration, ``text_stream``, ``get_final_message()``, ``until_done()``), so one
  watcher serves ``create(stream=True)`` and ``messages.stream(...)`` alike.
- :class:`RawResponseProxy` / :class:`AsyncRawResponseProxy` watch the ``APIResponse`` of
  ``with_raw_response`` / ``with_streaming_response`` until its body is parsed, read or closed.
"""

from __future__ import annotations

import json
from typing import Any

import wrapt

from otel_llm.anthropic.extract import finish_with_message, get
from otel_llm.instrumentation.call import LLMCall
from otel_llm.instrumentation.safety import report
from otel_llm.instrumentation.streams import AsyncStreamProxy, SyncStreamProxy
from otel_llm.usage import merge_anthropic_stream


# Delta type -> (field of the delta, field of the content block its fragments add up to).
_DELTA_FIELDS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": ("partial_json", "input"),
}
_CONTENT_EVENTS = frozenset({"content_block_start", "content_block_delta", "content_block_stop"})


class MessageEventsHandler:
    """Usage, model, id and stop reason of a streamed Message; its content only when captured.

    Usage comes from ``message_start`` and is updated by every ``message_delta`` (their counts are
    cumulative, later ones win), so a stream that stops early still reports what it had used.
    Content events are only kept while streaming and assembled once, when the stream ends: the
    caller's loop pays one list append per chunk.
    """

    def __init__(self, capture_content: bool) -> None:
        self._message: Any = None
        self._start_usage: Any = None
        self._delta_usage: Any = None
        self._stop_reason: str | None = None
        # content_block_* events in arrival order; None when content is not captured.
        self._content_events: list[Any] | None = [] if capture_content else None

    def on_chunk(self, event: Any) -> bool:
        kind = event.type  # the SDK's stream yields event models, never dicts
        if kind in _CONTENT_EVENTS:
            if self._content_events is not None:
                self._content_events.append(event)
        elif kind == "message_start":
            self._message = get(event, "message")
            self._start_usage = get(self._message, "usage")
        elif kind == "message_delta":
            self._delta_usage = get(event, "usage")
            self._stop_reason = get(get(event, "delta"), "stop_reason") or self._stop_reason
        return True

    def _content(self, events: list[Any]) -> list[dict[str, Any]]:
        """The content blocks the events add up to, as dicts, in index order."""
        blocks: dict[int, dict[str, Any]] = {}
        fragments: dict[tuple[int, str], list[str]] = {}  # (index, block field) -> pieces, joined once
        stopped: set[int] = set()
        for event in events:
            kind = get(event, "type")
            index = get(event, "index")
            if kind == "content_block_start":
                block = get(event, "content_block")
                blocks[index] = block.model_dump(mode="json", warnings=False) if hasattr(block, "model_dump") else dict(block)
            elif index not in blocks:
                continue  # a delta or stop without its start: nothing to add it to
            elif kind == "content_block_stop":
                stopped.add(index)
            else:
                delta = get(event, "delta")
                delta_type = get(delta, "type")
                if delta_type == "signature_delta":
                    blocks[index]["signature"] = get(delta, "signature")
                elif delta_type in _DELTA_FIELDS:
                    source, target = _DELTA_FIELDS[delta_type]
                    fragments.setdefault((index, target), []).append(get(delta, source) or "")
        for (index, target), pieces in fragments.items():
            block = blocks[index]
            if target != "input":
                block[target] = (block.get(target) or "") + "".join(pieces)
            elif index in stopped:  # tool input is only whole once its block stopped
                try:
                    block["input"] = json.loads("".join(pieces))
                except ValueError:
                    pass  # malformed partial JSON: keep the block's initial input
        return [blocks[index] for index in sorted(blocks)]

    def _assembled(self, events: list[Any]) -> dict[str, Any]:
        """The Message as far as the stream got, in the shape of the non-streamed response."""
        message = self._message
        assembled = message.model_dump(mode="json", warnings=False) if hasattr(message, "model_dump") else dict(message or {})
        usage = dict(assembled.get("usage") or {})
        delta_usage = self._delta_usage
        if delta_usage is not None:
            dumped = delta_usage.model_dump(mode="json", warnings=False) if hasattr(delta_usage, "model_dump") else dict(delta_usage)
            usage.update({key: value for key, value in dumped.items() if value is not None})
        assembled["usage"] = usage
        assembled["stop_reason"] = self._stop_reason
        assembled["content"] = self._content(events)
        return assembled

    def finish(self, call: LLMCall, error: BaseException | None) -> None:
        if self._message is None:
            # Nothing arrived: no usage to report, nothing to assemble.
            if error is not None:
                call.fail(error)
            else:
                call.finish()
            return
        usage = merge_anthropic_stream(self._start_usage, self._delta_usage)
        # Only recorded when content is captured, so only assembled then.
        events = self._content_events
        response = self._assembled(events) if events is not None else None
        if error is not None:
            call.fail(error, response=response, usage=usage)
            return
        call.finish(
            response=response,
            usage=usage,
            response_model=get(self._message, "model"),
            response_id=get(self._message, "id"),
            finish_reasons=[self._stop_reason] if self._stop_reason else None,
        )


def finish_from_body(call: LLMCall, http_response: Any) -> None:
    """End ``call`` from a JSON body the caller has read, or with no response when there is none."""
    if http_response.is_closed and http_response.headers.get("content-type", "").startswith("application/json"):
        finish_with_message(call, http_response.json())
    else:
        call.finish()


class _RawResponseProxyBase(wrapt.ObjectProxy):
    def __init__(self, wrapped: Any, call: LLMCall, capture_content: bool) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_capture_content = capture_content
        self._self_stream: Any = None

    def _self_observe(self, parsed: Any, stream_proxy: type) -> Any:
        """What ``parse()`` gave, watched: a stream through our proxy, a Message ends the call."""
        from anthropic import AsyncStream, Stream

        try:
            if self._self_stream is not None and self._self_stream.__wrapped__ is parsed:
                return self._self_stream  # parse() caches its result; so do we
            if isinstance(parsed, (Stream, AsyncStream)):
                self._self_stream = stream_proxy(parsed, self._self_call, MessageEventsHandler(self._self_capture_content))
                return self._self_stream
            if get(parsed, "usage") is not None:
                finish_with_message(self._self_call, parsed)
        except Exception as error:  # noqa: BLE001 - the caller still gets what parse() gave
            report("anthropic.raw_response.parse", error)
        return parsed

    def _self_closed(self) -> None:
        try:
            if self._self_stream is not None:
                self._self_stream._self_end(None)
            else:
                finish_from_body(self._self_call, self.__wrapped__.http_response)
        except Exception as error:  # noqa: BLE001
            report("anthropic.raw_response.close", error)
            self._self_call.finish()

    def __del__(self) -> None:
        self._self_closed()


class RawResponseProxy(_RawResponseProxyBase):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_observe(self.__wrapped__.parse(*args, **kwargs), SyncStreamProxy)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_closed()


class AsyncRawResponseProxy(_RawResponseProxyBase):
    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_observe(await self.__wrapped__.parse(*args, **kwargs), AsyncStreamProxy)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_closed()
