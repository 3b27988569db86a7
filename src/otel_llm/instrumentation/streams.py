"""Proxies that watch a provider's stream while the caller sees the SDK's own object.

The proxy is a ``wrapt.ObjectProxy``: ``isinstance`` checks, attributes, helper methods and
properties all reach the wrapped stream.  It intercepts only iteration and the ways a stream can
end, so the span ends exactly once whichever happens first: exhaustion, an exception, ``close()``,
leaving a ``with`` block, or garbage collection of an abandoned stream.

A ``for`` loop, the common way to read a stream, goes through ``__iter__``: a generator over the
SDK's own iterator, so each chunk costs one generator resume and the handler's ``on_chunk``, not
the Python-level ``__next__`` calls (ours and the SDK's) of ``next(stream)``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator, Protocol

import wrapt

from otel_llm.instrumentation.call import LLMCall, Outcome
from otel_llm.instrumentation.safety import report


class StreamHandler(Protocol):
    """Provider-specific accumulation of one stream."""

    def on_chunk(self, chunk: Any) -> bool:
        """Take note of ``chunk``; return False to hide it from the caller."""

    def outcome(self) -> Outcome:
        """What the chunks seen so far say about the call (the proxy ends it, failed or not)."""


class _StreamProxy(wrapt.ObjectProxy):
    def __init__(self, wrapped: Any, call: LLMCall, handler: StreamHandler) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_handler = handler
        self._self_ended = False
        self._self_seen_first = False

    def _self_accept(self, chunk: Any) -> bool:
        if not self._self_seen_first:
            self._self_seen_first = True
            self._self_call.first_chunk()
        try:
            return self._self_handler.on_chunk(chunk)
        except Exception as error:  # noqa: BLE001 - the caller still gets the chunk
            report("stream.on_chunk", error)
            return True

    def _self_end(self, error: BaseException | None) -> None:
        if self._self_ended:
            return
        self._self_ended = True
        try:
            outcome = self._self_handler.outcome()
        except Exception as internal:  # noqa: BLE001
            report("stream.outcome", internal)
            self._self_call.fail(internal)
            return
        self._self_call.end(outcome, error)

    def __del__(self) -> None:
        # An abandoned, never-closed stream still gets its span ended.
        self._self_end(None)


def end_stream(stream: Any) -> None:
    """End the call of ``stream`` now if it is one of our proxies (else do nothing).

    For SDK helpers that close the HTTP response underneath the proxy instead of closing the
    proxy (OpenAI's ``ChatCompletionStream.close()`` closes ``raw_stream.response``).
    """
    if isinstance(stream, _StreamProxy):
        stream._self_end(None)


class SyncStreamProxy(_StreamProxy):
    def __iter__(self) -> Iterator[Any]:
        # Like the SDK's own ``__iter__``, a new generator over the one underlying iterator: a loop
        # left with ``break`` can be followed by another loop or ``next()`` that carry on from there.
        accept = self._self_accept
        try:
            for chunk in self.__wrapped__:
                if accept(chunk):
                    yield chunk
        except GeneratorExit:
            raise  # the caller left the loop, not the stream: it ends on close, exit or collection
        except BaseException as error:
            self._self_end(error)
            raise
        self._self_end(None)

    def __next__(self) -> Any:
        wrapped = self.__wrapped__
        while True:
            try:
                chunk = wrapped.__next__()
            except StopIteration:
                self._self_end(None)
                raise
            except BaseException as error:
                self._self_end(error)
                raise
            if self._self_accept(chunk):
                return chunk

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end(None)

    def __enter__(self) -> "SyncStreamProxy":
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end(None)


class AsyncStreamProxy(_StreamProxy):
    async def __aiter__(self) -> AsyncIterator[Any]:
        # As SyncStreamProxy.__iter__: one async generator over the SDK's own ``__aiter__``.
        accept = self._self_accept
        try:
            async for chunk in self.__wrapped__:
                if accept(chunk):
                    yield chunk
        except GeneratorExit:
            raise
        except BaseException as error:
            self._self_end(error)
            raise
        self._self_end(None)

    async def __anext__(self) -> Any:
        wrapped = self.__wrapped__
        while True:
            try:
                chunk = await wrapped.__anext__()
            except StopAsyncIteration:
                self._self_end(None)
                raise
            except BaseException as error:
                self._self_end(error)
                raise
            if self._self_accept(chunk):
                return chunk

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end(None)

    async def aclose(self) -> None:
        # Forwarded as-is, the SDK's alias would call close() on the wrapped stream, not on us.
        await self.close()

    async def __aenter__(self) -> "AsyncStreamProxy":
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end(None)
