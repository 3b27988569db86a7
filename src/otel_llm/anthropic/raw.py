"""Anthropic raw responses (``with_raw_response`` / ``with_streaming_response``): an ``APIResponse``
whose body the caller reads; watched by the core's raw-response proxy (:mod:`otel_llm.instrumentation.raw`)."""

from __future__ import annotations

from typing import Any

from otel_llm.anthropic import extract
from otel_llm.anthropic.streams import MessageEventsHandler
from otel_llm.instrumentation.call import NOTHING, LLMCall, Outcome
from otel_llm.instrumentation.raw import AsyncRawResponseProxy, RawReading, RawResponseProxy


def watch(response: Any, call: LLMCall, capture_content: bool, sync: bool) -> Any:
    """What the caller gets for a raw ``response``: itself when its body was read already (the call
    ends now), else a proxy that ends the call once the caller has read it."""
    http_response = response.http_response
    if http_response.is_closed:  # with_raw_response: the SDK read the body already
        call.end(_body_outcome(http_response))
        return response
    from anthropic import AsyncStream, Stream

    reading = RawReading(
        sync_stream=Stream,
        async_stream=AsyncStream,
        make_handler=lambda: MessageEventsHandler(capture_content),
        outcome_of=extract.message_outcome,
        read_body=lambda raw: _json_body(raw.http_response),
    )
    return (RawResponseProxy if sync else AsyncRawResponseProxy)(response, call, reading)


def _json_body(http_response: Any) -> Any:
    """The JSON body the caller has read, or None when there is none."""
    if http_response.is_closed and http_response.headers.get("content-type", "").startswith("application/json"):
        return http_response.json()
    return None


def _body_outcome(http_response: Any) -> Outcome:
    body = _json_body(http_response)
    return extract.message_outcome(body) if body is not None else NOTHING
