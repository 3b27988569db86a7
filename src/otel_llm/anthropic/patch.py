"""The wrappers: one span per Messages API call, in place of the span the SDK makes itself.

Where we hook: ``SyncAPIClient.request`` / ``AsyncAPIClient.request`` of ``anthropic._base_client``,
for ``POST /v1/messages`` only.  Every way to create a Message goes through it exactly once per
call, retries included: ``messages.create`` (plain and ``stream=True``), ``messages.stream(...)``,
``messages.parse``, their ``beta.messages`` twins, ``with_raw_response`` /
``with_streaming_response``, and the Bedrock and Vertex clients, which subclass the same client.
So helpers built on other entry points can never give a second span, and clients made before
``instrument()`` are covered because the patch is on the class.

The SDK's own span, replaced rather than enriched: ``anthropic`` 2.x starts its own
``anthropic.messages.create`` span inside ``request`` unless its ``open_telemetry`` option or
``ANTHROPIC_OPEN_TELEMETRY=false`` turns it off, on the tracer provider given in that option or
the global one.  Enriching it cannot give the same span in every configuration: it does not exist
when the user turned SDK tracing off, it may go to a different tracer provider than the one this
instrumentor was given (so our exporter might never see it), its name is not ``chat {model}``,
and the SDK ends it from inside the response body's reader, before a stream proxy could add usage
and cost.  So while one of our calls is in flight, ``start_api_call_span`` (the SDK's only way to
start that span) returns a non-recording span carrying OUR span's context: the SDK records and
exports nothing, yet it still sends ``traceparent`` for our span when its propagation is on, and
still sends none when the user disabled its tracing.  Without our instrumentor, or after
``uninstrument()``, the SDK's span is made exactly as the SDK makes it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

from opentelemetry.trace import NonRecordingSpan

from otel_llm.anthropic import extract, raw
from otel_llm.anthropic.streams import MessageEventsHandler
from otel_llm.instrumentation.call import LLMCall
from otel_llm.instrumentation.clients import client_facts
from otel_llm.instrumentation.streams import AsyncStreamProxy, SyncStreamProxy
from otel_llm.instrumentation.telemetry import Telemetry
from otel_llm.instrumentation.wrapping import (
    Start,
    Started,
    async_wrapper,
    call_in_flight,
    sync_wrapper,
    unwrap_all,
    wrap,
)

CLIENT_MODULE = "anthropic._base_client"
SDK_SPAN_STARTER = "start_api_call_span"
MESSAGES_PATH = "/v1/messages"

def _options(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    # request(self, cast_to, options, *, stream=False, stream_cls=None); self is bound by wrapt.
    return kwargs["options"] if "options" in kwargs else args[1]


def _is_messages_call(options: Any) -> bool:
    url = str(getattr(options, "url", ""))
    return str(getattr(options, "method", "")).lower() == "post" and url.split("?", 1)[0] == MESSAGES_PATH


@functools.cache
def _sdk_types() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(placeholders for unset parameters, streams, raw responses) of the SDK.

    Imported on first use, not with this module (``import otel_llm`` must work without the SDK),
    and only once: an import statement in a function costs microseconds on every call.
    """
    from anthropic import APIResponse, AsyncAPIResponse, AsyncStream, NotGiven, Omit, Stream

    return (Omit, NotGiven), (Stream, AsyncStream), (APIResponse, AsyncAPIResponse)


def _request_body(options: Any) -> dict[str, Any]:
    """The request body as the caller gave it: the SDK's placeholders for unset parameters left out."""
    placeholders = _sdk_types()[0]
    body = getattr(options, "json_data", None)
    if not isinstance(body, Mapping):
        return {}
    return {key: value for key, value in body.items() if not isinstance(value, placeholders)}


def _starter(telemetry: Telemetry, sync: bool) -> Start:
    def start(client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Started | None:
        """Our call for a Messages request, or None for any other request."""
        options = _options(args, kwargs)
        if not _is_messages_call(options):
            return None
        body = _request_body(options)
        base_url = client.base_url
        model = body.get("model")
        call = LLMCall(
            telemetry,
            operation=extract.OPERATION,
            provider=client_facts(client, (type(client), base_url), extract.provider_name),
            request_model=model if isinstance(model, str) else None,
            request=body,
            spec=extract.PAYLOAD_SPEC,
            stream=bool(kwargs.get("stream") or body.get("stream")),
            server_address=base_url.host,
            server_port=base_url.port,
            request_attributes=extract.request_attributes(body),
        )
        return Started(call, lambda result: _observe(call, result, telemetry, sync))

    return start


def _observe(call: LLMCall, result: Any, telemetry: Telemetry, sync: bool) -> Any:
    """What the caller gets back: ``result`` itself, or a proxy watching a body still to be read."""
    _, streams, raw_responses = _sdk_types()
    if isinstance(result, streams):
        proxy = SyncStreamProxy if sync else AsyncStreamProxy
        return proxy(result, call, MessageEventsHandler(telemetry.capture_content))
    if isinstance(result, raw_responses):
        return raw.watch(result, call, telemetry.capture_content, sync)
    call.end(extract.message_outcome(result))
    return result


def _sdk_span_replacer(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``start_api_call_span`` while one of our calls is in flight: our span's context, recording nothing."""
    call = call_in_flight()
    if call is None:
        return wrapped(*args, **kwargs)
    return NonRecordingSpan(call.span.get_span_context())


_TARGETS = ["SyncAPIClient.request", "AsyncAPIClient.request", SDK_SPAN_STARTER]


def install(telemetry: Telemetry) -> None:
    wrap(CLIENT_MODULE, "SyncAPIClient.request", sync_wrapper(_starter(telemetry, sync=True), "anthropic"))
    wrap(CLIENT_MODULE, "AsyncAPIClient.request", async_wrapper(_starter(telemetry, sync=False), "anthropic"))
    wrap(CLIENT_MODULE, SDK_SPAN_STARTER, _sdk_span_replacer)


def uninstall() -> None:
    unwrap_all([(CLIENT_MODULE, name) for name in _TARGETS])
