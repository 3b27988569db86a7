"""Streamed Messages: :class:`MessageEventsHandler` reads the raw events for the core's stream proxies.

It watches the SDK's ``Stream`` of raw events, which every helper reads through (``MessageStream``
iteration, ``text_stream``, ``get_final_message()``, ``until_done()``), so one watcher serves
``create(stream=True)`` and ``messages.stream(...)`` alike.
"""

from __future__ import annotations

import json
from typing import Any

from otel_llm.anthropic.extract import get, service_tier_attributes
from otel_llm.instrumentation.call import NOTHING, Outcome
from otel_llm.usage import merge_anthropic_stream


# Delta type -> (field of the delta, field of the content block its fragments add up to).
_DELTA_FIELDS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": ("partial_json", "input"),
}


class MessageEventsHandler:
    """Usage, model, id and stop reason of a streamed Message; its content only when captured.

    Usage comes from ``message_start`` and is updated by every ``message_delta`` (their counts are
    cumulative, later ones win), so a stream that stops early still reports what it had used.
    Content is collected as the string fragments of each block and joined once, when the stream
    ends: the events themselves are not kept, since a stream's worth of SDK models held until the
    end would survive into the garbage collector's older generations, and the collections that
    walk them cost the caller's loop more than taking out one string per event.
    """

    def __init__(self, capture_content: bool) -> None:
        self._message: Any = None
        self._start_usage: Any = None
        self._delta_usage: Any = None
        self._stop_reason: str | None = None
        # Content, only when captured (else None): the blocks as started, by index; the fragments
        # of each (index, block field), joined at the end; signatures; the blocks that stopped.
        self._blocks: dict[int, Any] | None = {} if capture_content else None
        self._fragments: dict[tuple[int, str], list[str]] = {}
        self._signatures: dict[int, str] = {}
        self._stopped: set[int] = set()

    def on_chunk(self, event: Any) -> bool:
        kind = event.type  # the SDK's stream yields event models, never dicts
        blocks = self._blocks
        if kind == "content_block_delta":
            if blocks is not None and event.index in blocks:  # a delta without its start has no block
                delta = event.delta
                fields = _DELTA_FIELDS.get(delta.type)
                if fields is not None:
                    key = (event.index, fields[1])
                    pieces = self._fragments.get(key)
                    if pieces is None:
                        pieces = self._fragments[key] = []
                    pieces.append(getattr(delta, fields[0], None) or "")
                elif delta.type == "signature_delta":
                    self._signatures[event.index] = delta.signature
        elif kind == "content_block_start":
            if blocks is not None:
                blocks[event.index] = event.content_block
        elif kind == "content_block_stop":
            if blocks is not None:
                self._stopped.add(event.index)
        elif kind == "message_start":
            self._message = get(event, "message")
            self._start_usage = get(self._message, "usage")
        elif kind == "message_delta":
            self._delta_usage = get(event, "usage")
            self._stop_reason = get(get(event, "delta"), "stop_reason") or self._stop_reason
        return True

    def _content(self, blocks: dict[int, Any]) -> list[dict[str, Any]]:
        """The content blocks the events added up to, as dicts, in index order."""
        dumped = {index: _as_dict(block) for index, block in blocks.items()}
        for index, signature in self._signatures.items():
            dumped[index]["signature"] = signature
        for (index, target), pieces in self._fragments.items():
            block = dumped[index]
            if target != "input":
                block[target] = (block.get(target) or "") + "".join(pieces)
            elif index in self._stopped:  # tool input is only whole once its block stopped
                try:
                    block["input"] = json.loads("".join(pieces))
                except ValueError:
                    pass  # malformed partial JSON: keep the block's initial input
        return [dumped[index] for index in sorted(dumped)]

    def _assembled(self, blocks: dict[int, Any]) -> dict[str, Any]:
        """The Message as far as the stream got, in the shape of the non-streamed response."""
        assembled = _as_dict(self._message)
        usage = dict(assembled.get("usage") or {})
        delta_usage = self._delta_usage
        if delta_usage is not None:
            dumped = _as_dict(delta_usage)
            usage.update({key: value for key, value in dumped.items() if value is not None})
        assembled["usage"] = usage
        assembled["stop_reason"] = self._stop_reason
        assembled["content"] = self._content(blocks)
        return assembled

    def outcome(self) -> Outcome:
        message = self._message
        if message is None:
            return NOTHING  # nothing arrived: no usage to report, nothing to assemble
        # Content is only collected when captured, so only assembled then.
        blocks = self._blocks
        usage = merge_anthropic_stream(self._start_usage, self._delta_usage)
        return Outcome(
            response=self._assembled(blocks) if blocks is not None else None,
            usage=usage,
            response_model=get(message, "model"),
            response_id=get(message, "id"),
            finish_reasons=[self._stop_reason] if self._stop_reason else None,
            attributes=service_tier_attributes(usage),
        )


def _as_dict(value: Any) -> dict[str, Any]:
    """An SDK model (or a mapping) as a fresh JSON-shaped dict."""
    return value.model_dump(mode="json", warnings=False) if hasattr(value, "model_dump") else dict(value or {})
