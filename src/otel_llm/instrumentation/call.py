"""One SDK call in flight: its span, its payloads, its metrics; ended exactly once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import attributes as attr
from otel_llm import payloads, redaction
from otel_llm.context import current_attributes
from otel_llm.instrumentation.safety import report
from otel_llm.instrumentation.telemetry import Telemetry
from otel_llm.pricing import price_call
from otel_llm.usage import Usage

# Request keyword arguments that are transport settings, not part of the request body, or may
# carry credentials: never recorded.
_NOT_RECORDED = frozenset({"extra_headers", "extra_query", "timeout", "api_key", "idempotency_key"})


@dataclass(frozen=True, slots=True)
class PayloadSpec:
    """Where an operation's content lives, so config and content can be told apart.

    ``content_keys`` maps a GenAI content attribute (``gen_ai.input.messages``,
    ``gen_ai.system_instructions``) to the request keyword holding it; ``output_of`` turns the
    response into what ``gen_ai.output.messages`` should hold.
    """

    content_keys: Mapping[str, str]
    output_of: Callable[[Any], Any]
    content_params: frozenset[str] = frozenset()  # the request keywords of content_keys

    def __post_init__(self) -> None:
        object.__setattr__(self, "content_params", frozenset(self.content_keys.values()))


class Outcome(NamedTuple):
    """How a call ended, as far as its response tells: what :meth:`LLMCall.end` records.

    Providers make it from a response (``extract``) or from what a stream showed (``streams``).
    A named tuple: one is made per call, and a frozen dataclass's ``__init__`` costs ~4x more.
    """

    response: Any = None
    usage: Usage | None = None
    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: Sequence[str] | None = None
    attributes: Mapping[str, Any] | None = None
    error_type: str | None = None  # a response that reports a failure (not an exception)


NOTHING = Outcome()  # no response: the call ends with what its span already has


class LLMCall:
    """Span and bookkeeping for one SDK call.

    Provider code creates it before calling the SDK, then ends it once with :meth:`end` (or
    :meth:`fail` for an exception without a response); streams end it when the stream ends,
    however it ends.  Later calls are ignored, so every exit path may try to end it.  Every
    method swallows its own failures (see ``safety``).
    """

    __slots__ = (
        "_telemetry",
        "_span",
        "_spec",
        "_request",
        "_started",
        "_first_chunk",
        "_ended",
        "_metric_attributes",
        "request_model",
        "provider",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        operation: str,
        provider: str,
        request_model: str | None,
        request: Mapping[str, Any],
        spec: PayloadSpec,
        stream: bool = False,
        server_address: str | None = None,
        server_port: int | None = None,
        request_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._spec = spec
        self.request_model = request_model
        self.provider = provider
        self._started = time.perf_counter()
        self._first_chunk: float | None = None
        self._ended = False
        # Shallow copies: callers commonly append to their message list after the call returns.
        self._request = {k: v for k, v in request.items() if k not in _NOT_RECORDED}
        for key in spec.content_params:
            value = self._request.get(key)
            if isinstance(value, list):
                self._request[key] = list(value)
        attributes: dict[str, Any] = {
            attr.OPERATION_NAME: operation,
            attr.PROVIDER_NAME: provider,
            attr.REQUEST_STREAM: stream,
        }
        if request_model:
            attributes[attr.REQUEST_MODEL] = request_model
        if server_address:
            attributes[attr.SERVER_ADDRESS] = server_address
            if server_port:
                attributes[attr.SERVER_PORT] = server_port
        if request_attributes:
            attributes.update(request_attributes)
        attributes.update(current_attributes())
        self._metric_attributes = {
            attr.OPERATION_NAME: operation,
            attr.PROVIDER_NAME: provider,
            attr.REQUEST_MODEL: request_model or "",
        }
        if server_address:
            self._metric_attributes[attr.SERVER_ADDRESS] = server_address
        name = f"{operation} {request_model}" if request_model else operation
        self._span = telemetry.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    @property
    def span(self) -> trace.Span:
        return self._span

    def first_chunk(self) -> None:
        """Mark the arrival of the first streamed chunk (later marks are ignored)."""
        if self._first_chunk is None:
            self._first_chunk = time.perf_counter()

    def end(self, outcome: Outcome, error: BaseException | None = None) -> None:
        """End the span with ``outcome``; as failed with ``error`` when the call or its stream raised.

        With ``outcome.error_type``, the response itself reports a failure."""
        if error is not None:
            self.fail(error, response=outcome.response, usage=outcome.usage)
            return
        if self._ended:
            return
        self._ended = True
        try:
            self._record_outcome(
                outcome.response,
                outcome.usage,
                outcome.response_model,
                outcome.response_id,
                outcome.finish_reasons,
                outcome.attributes,
            )
            error_type = outcome.error_type
            if error_type:
                self._span.set_attribute(attr.ERROR_TYPE, error_type)
                self._span.set_status(Status(StatusCode.ERROR, error_type))
            self._record_duration(error_type)
        except Exception as internal:  # noqa: BLE001 - never into the app
            report("LLMCall.finish", internal)
        self._end()

    def fail(self, error: BaseException, *, response: Any = None, usage: Usage | None = None) -> None:
        """End the span for a call that raised (API error, connection error, error mid-stream)."""
        if self._ended:
            return
        self._ended = True
        try:
            error_type = type(error).__qualname__
            span = self._span
            span.set_attribute(attr.ERROR_TYPE, error_type)
            message = redaction.redact(str(error))
            span.set_attribute(attr.ERROR_MESSAGE, message)
            status_code = getattr(error, "status_code", None)
            if isinstance(status_code, int):
                span.set_attribute(attr.HTTP_RESPONSE_STATUS_CODE, status_code)
            span.set_status(Status(StatusCode.ERROR, f"{error_type}: {message}"))
            if response is not None or usage is not None:
                self._record_outcome(response, usage, None, None, None, None)
            else:
                values: dict[str, Any] = {}
                self._add_payloads(values, None)
                span.set_attributes(values)
            self._record_duration(error_type)
        except Exception as internal:  # noqa: BLE001
            report("LLMCall.fail", internal)
        self._end()

    def _end(self) -> None:
        try:
            self._span.end()
        except Exception as error:  # noqa: BLE001
            report("LLMCall.end", error)

    def _record_outcome(
        self,
        response: Any,
        usage: Usage | None,
        response_model: str | None,
        response_id: str | None,
        finish_reasons: Sequence[str] | None,
        extra: Mapping[str, Any] | None,
    ) -> None:
        values: dict[str, Any] = {}
        if response_model:
            values[attr.RESPONSE_MODEL] = response_model
        if response_id:
            values[attr.RESPONSE_ID] = response_id
        if finish_reasons:
            values[attr.RESPONSE_FINISH_REASONS] = list(finish_reasons)
        if self._first_chunk is not None:
            ttfc = self._first_chunk - self._started
            values[attr.RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
            self._telemetry.time_to_first_chunk.record(ttfc, self._metric_attributes)
        if usage is not None:
            _add_usage_attributes(values, usage)
            self._record_tokens(usage, response_model)
            self._record_cost(values, usage, response_model)
        if extra:
            values.update(extra)
        try:
            self._add_payloads(values, response)
        except Exception as error:  # noqa: BLE001 - an unserializable payload must not cost the usage
            report("LLMCall.payloads", error)
        # One call: the SDK takes its attribute lock and checks limits once per set_attributes.
        self._span.set_attributes(values)

    def _record_tokens(self, usage: Usage, response_model: str | None) -> None:
        metric_attributes = self._metric_attributes  # only read: each record gets its own dict
        if response_model:
            metric_attributes = {**metric_attributes, attr.RESPONSE_MODEL: response_model}
        histogram = self._telemetry.token_usage
        if usage.input_tokens is not None:
            histogram.record(usage.input_tokens, {**metric_attributes, "gen_ai.token.type": "input"})
        if usage.output_tokens is not None:
            histogram.record(usage.output_tokens, {**metric_attributes, "gen_ai.token.type": "output"})

    def _record_cost(self, values: dict[str, Any], usage: Usage, response_model: str | None) -> None:
        cost = price_call(self.provider, response_model, self.request_model, usage, service_tier=usage.service_tier)
        values[attr.COST_PRICING_VERSION] = cost.pricing_version
        if cost.total is None:
            values[attr.COST_UNPRICED_REASON] = cost.unpriced_reason or "unpriced"
            return
        values[attr.COST_USD] = cost.usd_text()
        values[attr.COST_DETAILS] = cost.details_json()
        self._telemetry.cost.add(cost.total / 1e9, self._metric_attributes)

    def _record_duration(self, error_type: str | None) -> None:
        metric_attributes = self._metric_attributes
        if error_type:
            metric_attributes = {**metric_attributes, attr.ERROR_TYPE: error_type}
        self._telemetry.operation_duration.record(time.perf_counter() - self._started, metric_attributes)

    def _add_payloads(self, values: dict[str, Any], response: Any) -> None:
        """Content attributes into ``values`` as JSON (redacted: other exporters see them), and
        the full request and response kept with the span for our exporter's row
        (:mod:`otel_llm.payloads`), which serializes them on its own thread."""
        if not self._span.is_recording():
            return
        redact = redaction.redact
        request = self._request
        spec = self._spec
        content_params = spec.content_params
        config = redact(payloads.to_json({k: v for k, v in request.items() if k not in content_params}))
        values[attr.LLM_CONFIG_JSON] = config
        objects: dict[str, Any] = {}
        if self._telemetry.capture_content:
            for attribute, key in spec.content_keys.items():
                value = request.get(key)
                if value is not None:
                    values[attribute] = redact(value if isinstance(value, str) else payloads.to_json(value))
            objects[attr.REQUEST_JSON] = request
            if response is not None:
                output = spec.output_of(response)
                if output is not None:
                    values[attr.OUTPUT_MESSAGES] = redact(payloads.to_json(output))
                objects[attr.RESPONSE_JSON] = response
        payloads.keep(self._span, {attr.LLM_CONFIG_JSON: config}, objects)


def _add_usage_attributes(values: dict[str, Any], usage: Usage) -> None:
    if usage.input_tokens is not None:
        values[attr.USAGE_INPUT_TOKENS] = usage.input_tokens
    if usage.output_tokens is not None:
        values[attr.USAGE_OUTPUT_TOKENS] = usage.output_tokens
    if usage.cache_read_tokens is not None:
        values[attr.USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
    if usage.cache_write_tokens is not None:
        values[attr.USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_write_tokens
    if usage.reasoning_tokens is not None:
        values[attr.USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
    details = usage.details
    if details:
        # A flat JSON object without json.dumps' encoder setup: keys are usage.py's identifiers,
        # values numbers, nothing to escape.
        values[attr.USAGE_DETAILS] = "{" + ",".join([f'"{k}":{n}' for k, n in details.items()]) + "}"
