"""Raw responses: ``with_raw_response`` (``LegacyAPIResponse``) and ``with_streaming_response``
(``APIResponse`` / ``AsyncAPIResponse``).

The caller reads the body later, in their own way, so we never read it first:

- ``with_raw_response`` without streaming: the SDK has already read the body, and ``parse()``
  caches its result per type, so parsing now hands the caller the very same object later.
  The span ends at once.
- Everything else waits for the caller.  Their ``parse()`` ends the span (or, for SSE, returns
  our stream proxy in place of the SDK's stream, every time they call it); ``close()`` (the end
  of a ``with_streaming_response`` block) ends it with whatever body was read; garbage
  collection of an untouched response ends it with nothing.
"""

from __future__ import annotations

import json
import weakref
from typing import Any, Callable

import wrapt
from openai import AsyncStream, Stream
from openai._legacy_response import LegacyAPIResponse
from openai._response import APIResponse, AsyncAPIResponse, BaseAPIResponse
from opentelemetry.instrumentation.utils import unwrap

from otel_llm.instrumentation.call import LLMCall
from otel_llm.instrumentation.safety import report
from otel_llm.instrumentation.streams import AsyncStreamProxy, StreamHandler, SyncStreamProxy, end_stream

_PENDING = "_otel_llm_pending"
Outcome = Callable[[Any], dict[str, Any]]


def is_raw(value: Any) -> bool:
    return isinstance(value, (LegacyAPIResponse, BaseAPIResponse))


def track(
    response: Any, call: LLMCall, outcome: Outcome, make_handler: Callable[[], StreamHandler], streaming: bool
) -> None:
    if isinstance(response, LegacyAPIResponse) and not streaming:
        try:
            parsed = response.parse()
        except Exception as error:  # noqa: BLE001 - the caller's own parse() will raise it again
            call.fail(error)
            return
        _finish(call, outcome, parsed)
        return
    pending = _Pending(call, outcome, make_handler)
    setattr(response, _PENDING, pending)
    weakref.finalize(response, pending.abandon)


def _finish(call: LLMCall, outcome: Outcome, response: Any) -> None:
    try:
        fields = outcome(response)
    except Exception as error:  # noqa: BLE001
        report("openai.raw.outcome", error)
        call.finish()
        return
    call.finish(response=response, **fields)


class _Pending:
    __slots__ = ("call", "outcome", "make_handler", "stream")

    def __init__(self, call: LLMCall, outcome: Outcome, make_handler: Callable[[], StreamHandler]) -> None:
        self.call = call
        self.outcome = outcome
        self.make_handler = make_handler
        self.stream: Any = None

    def parsed(self, value: Any) -> Any:
        if self.stream is not None:
            # parse() returns its cached stream again: keep handing out our proxy of it.
            return self.stream if value is self.stream.__wrapped__ else value
        if isinstance(value, Stream):
            self.stream = SyncStreamProxy(value, self.call, self.make_handler())
            return self.stream
        if isinstance(value, AsyncStream):
            self.stream = AsyncStreamProxy(value, self.call, self.make_handler())
            return self.stream
        _finish(self.call, self.outcome, value)
        return value

    def failed(self, error: BaseException) -> None:
        if self.stream is None:
            self.call.fail(error)

    def closed(self, response: Any) -> None:
        if self.stream is not None:
            end_stream(self.stream)
            return
        body = _body_if_read(response)
        if body is None:
            self.call.finish()
        else:
            _finish(self.call, self.outcome, body)

    def abandon(self) -> None:
        if self.stream is None:
            self.call.finish()


def _body_if_read(response: Any) -> Any:
    try:
        return json.loads(response.http_response.content)  # raises if the body was never read
    except Exception:  # noqa: BLE001 - unread, streamed away, or not JSON: nothing to learn
        return None


_NO_DICT: dict[str, Any] = {}


def _pending_of(response: Any) -> _Pending | None:
    # Runs in every SDK call's parse(), raw or not: no new dict for objects without a __dict__.
    return getattr(response, "__dict__", _NO_DICT).get(_PENDING)


def _parse(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    pending = _pending_of(instance)
    if pending is None or kwargs.get("to") is not None:
        return wrapped(*args, **kwargs)
    try:
        value = wrapped(*args, **kwargs)
    except BaseException as error:
        pending.failed(error)
        raise
    return _handed_out(pending, value)


async def _parse_async(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    pending = _pending_of(instance)
    if pending is None or kwargs.get("to") is not None:
        return await wrapped(*args, **kwargs)
    try:
        value = await wrapped(*args, **kwargs)
    except BaseException as error:
        pending.failed(error)
        raise
    return _handed_out(pending, value)


def _handed_out(pending: _Pending, value: Any) -> Any:
    try:
        return pending.parsed(value)
    except Exception as error:  # noqa: BLE001
        report("openai.raw.parse", error)
        return value


def _close(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return wrapped(*args, **kwargs)
    finally:
        _closed(instance)


async def _close_async(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _closed(instance)


def _closed(response: Any) -> None:
    pending = _pending_of(response)
    if pending is None:
        return
    try:
        pending.closed(response)
    except Exception as error:  # noqa: BLE001
        report("openai.raw.close", error)


_HOOKS = [
    (LegacyAPIResponse, "parse", _parse),
    (APIResponse, "parse", _parse),
    (AsyncAPIResponse, "parse", _parse_async),
    (APIResponse, "close", _close),
    (AsyncAPIResponse, "close", _close_async),
]


def install() -> None:
    for cls, method, hook in _HOOKS:
        wrapt.wrap_function_wrapper(cls, method, hook)


def uninstall() -> None:
    for cls, method, _ in _HOOKS:
        unwrap(cls, method)
