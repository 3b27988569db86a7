"""OpenAI raw responses: ``with_raw_response`` (``LegacyAPIResponse``) and ``with_streaming_response``
(``APIResponse`` / ``AsyncAPIResponse``).

The caller reads the body later, in their own way, so we never read it first:

- ``with_raw_response`` without streaming: the SDK has already read the body, and ``parse()``
  caches its result per type, so parsing now hands the caller the very same object later.
  The call ends at once.
- Everything else goes to the caller through the core's raw-response proxy
  (:mod:`otel_llm.instrumentation.raw`), which ends the call once they parse, read or close it.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from openai import AsyncStream, Stream
from openai._legacy_response import LegacyAPIResponse
from openai._response import AsyncAPIResponse, BaseAPIResponse

from otel_llm.instrumentation.call import LLMCall, Outcome
from otel_llm.instrumentation.raw import AsyncRawResponseProxy, RawReading, RawResponseProxy
from otel_llm.instrumentation.streams import StreamHandler


def is_raw(value: Any) -> bool:
    return isinstance(value, (LegacyAPIResponse, BaseAPIResponse))


def watch(
    response: Any,
    call: LLMCall,
    outcome_of: Callable[[Any], Outcome],
    make_handler: Callable[[], StreamHandler],
    streaming: bool,
) -> Any:
    """What the caller gets for a raw ``response``: itself (the call ended), or a proxy."""
    if isinstance(response, LegacyAPIResponse) and not streaming:
        try:
            parsed = response.parse()
        except Exception as error:  # noqa: BLE001 - the caller's own parse() will raise it again
            call.fail(error)
            return response
        call.end(outcome_of(parsed))
        return response
    reading = RawReading(Stream, AsyncStream, make_handler, outcome_of, _body_if_read)
    # LegacyAPIResponse parses synchronously for async clients too; AsyncAPIResponse does not.
    proxy = AsyncRawResponseProxy if isinstance(response, AsyncAPIResponse) else RawResponseProxy
    return proxy(response, call, reading)


def _body_if_read(response: Any) -> Any:
    try:
        return json.loads(response.http_response.content)  # raises if the body was never read
    except Exception:  # noqa: BLE001 - unread, streamed away, or not JSON: nothing to learn
        return None
