"""wrapt wrappers around the OpenAI SDK's resource methods, installed on the classes.

Class-level wrapping traces clients created before and after ``instrument()``.  Which methods:

- ``create`` of chat completions, responses and embeddings (sync and async).
- ``chat.completions.parse`` and ``responses.parse``: they call ``_post`` themselves.
- ``beta.responses.create``: its own resource class, the same Responses wire format.
- NOT ``chat.completions.stream`` / ``responses.stream``: they call ``self.create(stream=True)``
  and so already get their one span from ``create``.  Their helper streams close the HTTP
  response underneath our proxy, so their ``close`` is wrapped to end the span (see
  :data:`_HELPER_STREAM_CLOSES`).
- ``with_raw_response`` / ``with_streaming_response`` go through the same bound ``create``;
  what comes back is a raw response, handled by :mod:`otel_llm.openai.raw`.

A context variable makes nested wrapped calls pass straight through, so a future SDK routing
one wrapped method through another still yields exactly one span.
"""

from __future__ import annotations

import contextvars
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import wrapt
from openai import AsyncStream, Stream
from openai._constants import RAW_RESPONSE_HEADER
from opentelemetry.instrumentation.utils import unwrap

from otel_llm import attributes as attr
from otel_llm.instrumentation.call import LLMCall, PayloadSpec
from otel_llm.instrumentation.safety import report
from otel_llm.instrumentation.streams import AsyncStreamProxy, StreamHandler, SyncStreamProxy, end_stream
from otel_llm.instrumentation.telemetry import Telemetry
from otel_llm.openai import extract, raw
from otel_llm.openai.streams import ChatStreamHandler, ResponsesStreamHandler

_in_call: contextvars.ContextVar[bool] = contextvars.ContextVar("otel_llm_openai_in_call", default=False)


@dataclass(frozen=True, slots=True)
class Operation:
    """What differs between the wrapped OpenAI endpoints."""

    name: str
    spec: PayloadSpec
    request_attributes: Callable[[Mapping[str, Any]], dict[str, Any]]
    outcome: Callable[[Any], dict[str, Any]]
    stream_handler: Callable[[bool, bool], StreamHandler] | None = None  # (hide usage chunk, capture)
    # Chat streams report usage only when ``stream_options.include_usage`` is set.
    needs_usage_option: bool = False


CHAT = Operation(
    name=extract.CHAT,
    spec=PayloadSpec({attr.INPUT_MESSAGES: "messages"}, extract.chat_output_messages),
    request_attributes=extract.chat_request_attributes,
    outcome=extract.chat_outcome,
    stream_handler=lambda hide, capture: ChatStreamHandler(hide_usage_chunk=hide, assemble=capture),
    needs_usage_option=True,
)
RESPONSES = Operation(
    name=extract.CHAT,
    spec=PayloadSpec(
        {attr.INPUT_MESSAGES: "input", attr.SYSTEM_INSTRUCTIONS: "instructions"}, extract.responses_output_messages
    ),
    request_attributes=extract.responses_request_attributes,
    outcome=extract.responses_outcome,
    stream_handler=lambda hide, capture: ResponsesStreamHandler(),
)
EMBEDDINGS = Operation(
    name=extract.EMBEDDINGS,
    spec=PayloadSpec({attr.INPUT_MESSAGES: "input"}, extract.no_output),
    request_attributes=extract.embeddings_request_attributes,
    outcome=extract.embeddings_outcome,
)

_CHAT_MODULE = "openai.resources.chat.completions.completions"
_RESPONSES_MODULE = "openai.resources.responses.responses"
_BETA_RESPONSES_MODULE = "openai.resources.beta.responses.responses"
_EMBEDDINGS_MODULE = "openai.resources.embeddings"
# (module, "Class.method", operation); every one has a sync and an async class.
_CALLS = [
    (_CHAT_MODULE, "Completions.create", CHAT),
    (_CHAT_MODULE, "Completions.parse", CHAT),
    (_RESPONSES_MODULE, "Responses.create", RESPONSES),
    (_RESPONSES_MODULE, "Responses.parse", RESPONSES),
    (_BETA_RESPONSES_MODULE, "Responses.create", RESPONSES),  # client.beta.responses: same wire format
    (_EMBEDDINGS_MODULE, "Embeddings.create", EMBEDDINGS),
]
_HELPER_STREAM_CLOSES = [
    ("openai.lib.streaming.chat._completions", "ChatCompletionStream"),
    ("openai.lib.streaming.responses._responses", "ResponseStream"),
]


class _Started:
    """A call in flight: its span and how to watch its stream if it becomes one."""

    __slots__ = ("call", "operation", "kwargs", "streaming", "hide_usage_chunk", "capture")

    def __init__(self, telemetry: Telemetry, operation: Operation, instance: Any, kwargs: dict[str, Any]) -> None:
        request = extract.given(kwargs)
        streaming = request.get("stream") is True
        client = getattr(instance, "_client", None)
        address, port, provider, accepts_stream_options = _endpoint_of(client)
        self.hide_usage_chunk = False
        if streaming and operation.needs_usage_option and accepts_stream_options and _may_add_usage_option(request):
            stream_options = request.get("stream_options") or {}
            if stream_options.get("include_usage") is not True:
                # Usage arrives only if asked for; ask, and hide the answer from the caller.
                request["stream_options"] = {**stream_options, "include_usage": True}
                kwargs = {**kwargs, "stream_options": request["stream_options"]}
                self.hide_usage_chunk = True
        model = request.get("model")
        self.call = LLMCall(
            telemetry,
            operation=operation.name,
            provider=provider,
            request_model=model if isinstance(model, str) else None,
            request=request,
            spec=operation.spec,
            stream=streaming,
            server_address=address,
            server_port=port,
            request_attributes=operation.request_attributes(request),
        )
        self.operation = operation
        self.kwargs = kwargs
        self.streaming = streaming
        self.capture = telemetry.capture_content

    def make_handler(self) -> StreamHandler:
        factory = self.operation.stream_handler
        if factory is None:
            raise TypeError(f"{self.operation.name} does not stream")
        return factory(self.hide_usage_chunk, self.capture)

    def result(self, value: Any) -> Any:
        """What the caller gets for ``value``: a watched stream, or ``value`` itself."""
        try:
            if isinstance(value, Stream):
                return SyncStreamProxy(value, self.call, self.make_handler())
            if isinstance(value, AsyncStream):
                return AsyncStreamProxy(value, self.call, self.make_handler())
            if raw.is_raw(value):
                raw.track(value, self.call, self.operation.outcome, self.make_handler, self.streaming)
                return value
            self.call.finish(response=value, **self.operation.outcome(value))
        except Exception as error:  # noqa: BLE001 - an unexpected response shape: still the SDK's result
            report("openai.result", error)
            self.call.finish()
        return value


def _may_add_usage_option(request: Mapping[str, Any]) -> bool:
    # with_streaming_response hands the caller the raw bytes: an extra chunk there cannot be hidden.
    headers = request.get("extra_headers")
    return not (isinstance(headers, Mapping) and headers.get(RAW_RESPONSE_HEADER) == "stream")


# id(client) -> (client type, base URL object, API version, endpoint): what a client's calls go
# to is the same for every call until its base URL changes, and reading it (URL parts, provider
# markers, Azure API version) costs more than this check.  The URL object is kept, so its id
# cannot be reused by another URL while the entry lives.
_ENDPOINTS: dict[int, tuple[Any, Any, Any, tuple[str | None, int | None, str, bool]]] = {}


def _endpoint_of(client: Any) -> tuple[str | None, int | None, str, bool]:
    """(server address, port, provider name, accepts stream_options) of ``client``."""
    url = getattr(client, "_base_url", None)
    api_version = getattr(client, "_api_version", None)
    cached = _ENDPOINTS.get(id(client))
    if cached is not None and cached[0] is type(client) and cached[1] is url and cached[2] == api_version:
        return cached[3]
    address, port = extract.server_of(client)
    endpoint = (address, port, extract.provider_of(client, address), extract.accepts_stream_options(client))
    if url is not None:
        if len(_ENDPOINTS) >= 1024:  # clients made per request: forget, rather than grow
            _ENDPOINTS.clear()
        _ENDPOINTS[id(client)] = (type(client), url, api_version, endpoint)
    return endpoint


def _start(telemetry: Telemetry, operation: Operation, instance: Any, kwargs: dict[str, Any]) -> _Started | None:
    if _in_call.get():
        return None
    try:
        return _Started(telemetry, operation, instance, kwargs)
    except Exception as error:  # noqa: BLE001
        report("openai.start", error)
        return None


def _sync_wrapper(telemetry: Telemetry, operation: Operation) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        started = _start(telemetry, operation, instance, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        token = _in_call.set(True)
        try:
            value = wrapped(*args, **started.kwargs)
        except BaseException as error:
            started.call.fail(error)
            raise
        finally:
            _in_call.reset(token)
        return started.result(value)

    return wrapper


def _async_wrapper(telemetry: Telemetry, operation: Operation) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        started = _start(telemetry, operation, instance, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        token = _in_call.set(True)
        try:
            value = await wrapped(*args, **started.kwargs)
        except BaseException as error:
            started.call.fail(error)
            raise
        finally:
            _in_call.reset(token)
        return started.result(value)

    return wrapper


def _end_helper_stream_after(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return wrapped(*args, **kwargs)
    finally:
        _end_raw_stream_of(instance)


async def _end_helper_stream_after_async(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _end_raw_stream_of(instance)


def _end_raw_stream_of(helper_stream: Any) -> None:
    try:
        end_stream(getattr(helper_stream, "_raw_stream", None))
    except Exception as error:  # noqa: BLE001
        report("openai.helper_stream.close", error)


def install(telemetry: Telemetry) -> None:
    for module, name, operation in _CALLS:
        cls, method = name.split(".")
        wrapt.wrap_function_wrapper(module, name, _sync_wrapper(telemetry, operation))
        wrapt.wrap_function_wrapper(module, f"Async{cls}.{method}", _async_wrapper(telemetry, operation))
    for module, cls in _HELPER_STREAM_CLOSES:
        wrapt.wrap_function_wrapper(module, f"{cls}.close", _end_helper_stream_after)
        wrapt.wrap_function_wrapper(module, f"Async{cls}.close", _end_helper_stream_after_async)
    raw.install()


def uninstall() -> None:
    for module, name, _ in _CALLS:
        cls, method = name.split(".")
        target = importlib.import_module(module)
        unwrap(getattr(target, cls), method)
        unwrap(getattr(target, f"Async{cls}"), method)
    for module, cls in _HELPER_STREAM_CLOSES:
        target = importlib.import_module(module)
        unwrap(getattr(target, cls), "close")
        unwrap(getattr(target, f"Async{cls}"), "close")
    raw.uninstall()
