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
  what comes back is a raw response, watched as :mod:`otel_llm.openai.raw` says.

The wrappers come from :mod:`otel_llm.instrumentation.wrapping`: the span is current while the
SDK sends the request, and nested wrapped calls pass straight through.  A method a given SDK
release lacks is left unwrapped (logged), like the Anthropic instrumentor does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from openai import AsyncStream, Stream
from openai._constants import RAW_RESPONSE_HEADER

from otel_llm import attributes as attr
from otel_llm.instrumentation.call import LLMCall, Outcome, PayloadSpec
from otel_llm.instrumentation.clients import client_facts
from otel_llm.instrumentation.safety import report
from otel_llm.instrumentation.streams import AsyncStreamProxy, StreamHandler, SyncStreamProxy, end_stream
from otel_llm.instrumentation.telemetry import Telemetry
from otel_llm.instrumentation.wrapping import Start, Started, async_wrapper, sync_wrapper, unwrap_all, wrap
from otel_llm.openai import extract, raw
from otel_llm.openai.streams import ChatStreamHandler, ResponsesStreamHandler

@dataclass(frozen=True, slots=True)
class Operation:
    """What differs between the wrapped OpenAI endpoints."""

    name: str
    spec: PayloadSpec
    request_attributes: Callable[[Mapping[str, Any]], dict[str, Any]]
    outcome: Callable[[Any], Outcome]
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


def _starter(telemetry: Telemetry, operation: Operation) -> Start:
    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Started:
        request = extract.given(kwargs)
        streaming = request.get("stream") is True
        client = getattr(instance, "_client", None)
        address, port, provider, accepts_stream_options = _endpoint_of(client)
        hide_usage_chunk = False
        sdk_kwargs = None
        if streaming and operation.needs_usage_option and accepts_stream_options and _may_add_usage_option(request):
            stream_options = request.get("stream_options") or {}
            if stream_options.get("include_usage") is not True:
                # Usage arrives only if asked for; ask, and hide the answer from the caller.
                request["stream_options"] = {**stream_options, "include_usage": True}
                sdk_kwargs = {**kwargs, "stream_options": request["stream_options"]}
                hide_usage_chunk = True
        model = request.get("model")
        call = LLMCall(
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
        capture = telemetry.capture_content

        def make_handler() -> StreamHandler:
            factory = operation.stream_handler
            if factory is None:
                raise TypeError(f"{operation.name} does not stream")
            return factory(hide_usage_chunk, capture)

        def observe(value: Any) -> Any:
            """What the caller gets for ``value``: a watched stream, or ``value`` itself."""
            if isinstance(value, Stream):
                return SyncStreamProxy(value, call, make_handler())
            if isinstance(value, AsyncStream):
                return AsyncStreamProxy(value, call, make_handler())
            if raw.is_raw(value):
                return raw.watch(value, call, operation.outcome, make_handler, streaming)
            call.end(operation.outcome(value))
            return value

        return Started(call, observe, sdk_kwargs)

    return start


def _may_add_usage_option(request: Mapping[str, Any]) -> bool:
    # with_streaming_response hands the caller the raw bytes: an extra chunk there cannot be hidden.
    headers = request.get("extra_headers")
    return not (isinstance(headers, Mapping) and headers.get(RAW_RESPONSE_HEADER) == "stream")


def _endpoint_of(client: Any) -> tuple[str | None, int | None, str, bool]:
    """(server address, port, provider name, accepts stream_options) of ``client``."""
    state = (type(client), extract.base_url_of(client), getattr(client, "_api_version", None))
    return client_facts(client, state, _work_out_endpoint)


def _work_out_endpoint(client: Any) -> tuple[str | None, int | None, str, bool]:
    address, port = extract.server_of(client)
    return address, port, extract.provider_of(client, address), extract.accepts_stream_options(client)


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


def _targets() -> list[tuple[str, str, Operation | None]]:
    """(module, "Class.method", operation) of every wrapped method, sync and async; helper stream
    closes have no operation."""
    targets: list[tuple[str, str, Operation | None]] = []
    for module, name, operation in _CALLS:
        targets += [(module, name, operation), (module, f"Async{name}", operation)]
    for module, cls in _HELPER_STREAM_CLOSES:
        targets += [(module, f"{cls}.close", None), (module, f"Async{cls}.close", None)]
    return targets


def install(telemetry: Telemetry) -> None:
    for module, name, operation in _targets():
        is_async = name.startswith("Async")
        if operation is None:
            wrapper = _end_helper_stream_after_async if is_async else _end_helper_stream_after
        else:
            make = async_wrapper if is_async else sync_wrapper
            wrapper = make(_starter(telemetry, operation), "openai")
        wrap(module, name, wrapper)


def uninstall() -> None:
    unwrap_all([(module, name) for module, name, _ in _targets()])
