"""Raw responses (``with_raw_response`` / ``with_streaming_response``) whose body the caller reads later.

The caller gets the SDK's own response object through a ``wrapt.ObjectProxy``; we never read the
body first.  The call ends when the caller's ``parse()`` gives a response (or hands out a stream,
which our stream proxy then watches: every later ``parse()`` returns that same proxy), when
``parse()`` raises, on ``close()`` (the end of a ``with_streaming_response`` block) with whatever
body was read, or when an untouched response is garbage-collected.  ``parse(to=...)`` is the
caller's own type: passed through, unobserved.  What differs per provider is :class:`RawReading`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import wrapt

from otel_llm.instrumentation.call import LLMCall, Outcome
from otel_llm.instrumentation.safety import report
from otel_llm.instrumentation.streams import AsyncStreamProxy, StreamHandler, SyncStreamProxy


@dataclass(frozen=True, slots=True)
class RawReading:
    """How a provider's raw response of one call is read."""

    sync_stream: type  # what parse() gives for a streamed response, sync and async clients
    async_stream: type
    make_handler: Callable[[], StreamHandler]
    outcome_of: Callable[[Any], Outcome]  # a parsed or JSON body -> how the call ended
    read_body: Callable[[Any], Any]  # the raw response -> its JSON body if the caller read it, else None


class _RawResponseProxy(wrapt.ObjectProxy):
    def __init__(self, wrapped: Any, call: LLMCall, reading: RawReading) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_reading = reading
        self._self_stream: Any = None

    def _self_parsed(self, value: Any) -> Any:
        try:
            stream = self._self_stream
            if stream is not None:
                return stream if value is stream.__wrapped__ else value  # parse() caches; so do we
            reading = self._self_reading
            # By what parse() gave: a raw response of an async client may parse synchronously.
            proxy = SyncStreamProxy if isinstance(value, reading.sync_stream) else None
            if isinstance(value, reading.async_stream):
                proxy = AsyncStreamProxy
            if proxy is not None:
                self._self_stream = proxy(value, self._self_call, reading.make_handler())
                return self._self_stream
            self._self_call.end(reading.outcome_of(value))
        except Exception as error:  # noqa: BLE001 - the caller still gets what parse() gave
            report("raw_response.parse", error)
        return value

    def _self_failed(self, error: BaseException) -> None:
        if self._self_stream is None:
            self._self_call.fail(error)

    def _self_closed(self) -> None:
        try:
            if self._self_stream is not None:
                self._self_stream._self_end(None)
                return
            body = self._self_reading.read_body(self.__wrapped__)
            self._self_call.end(self._self_reading.outcome_of(body) if body is not None else Outcome())
        except Exception as error:  # noqa: BLE001
            report("raw_response.close", error)
            self._self_call.end(Outcome())

    def __del__(self) -> None:
        self._self_closed()


class RawResponseProxy(_RawResponseProxy):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("to") is not None:
            return self.__wrapped__.parse(*args, **kwargs)
        try:
            value = self.__wrapped__.parse(*args, **kwargs)
        except BaseException as error:
            self._self_failed(error)
            raise
        return self._self_parsed(value)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_closed()


class AsyncRawResponseProxy(_RawResponseProxy):
    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("to") is not None:
            return await self.__wrapped__.parse(*args, **kwargs)
        try:
            value = await self.__wrapped__.parse(*args, **kwargs)
        except BaseException as error:
            self._self_failed(error)
            raise
        return self._self_parsed(value)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_closed()
