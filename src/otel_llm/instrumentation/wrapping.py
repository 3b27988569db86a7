"""Wrapping an SDK method, the one way every instrumentor does it.

A provider says how a call starts (``start``: its :class:`Started`, or None for a call not
ours); this module runs the SDK method with the call's span current, so HTTP client spans and
``traceparent`` hang off the LLM span, and with ``llm_context`` entries taken out of the baggage
the SDK may send, so they never reach a provider.  A call made while another of ours is in
flight in the same context passes straight through: an SDK routing one wrapped method through
another still yields one span.  ``start`` and ``Started.observe`` failing only cost telemetry.
"""

from __future__ import annotations

import importlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import unwrap

from otel_llm.context import without_propagated_values
from otel_llm.instrumentation.call import NOTHING, LLMCall
from otel_llm.instrumentation.safety import report

_in_flight: ContextVar[LLMCall | None] = ContextVar("otel_llm_call_in_flight", default=None)


@dataclass(slots=True)
class Started:
    """A call under way: its span, what the caller gets for the SDK's result, the SDK's kwargs.

    As a context manager, the span is current (and the call in flight) inside, and an
    exception leaving it fails the call.
    """

    call: LLMCall
    observe: Callable[[Any], Any]  # the SDK's result -> what the caller gets (ends the call or watches it)
    kwargs: dict[str, Any] | None = None  # replaces the caller's keyword arguments when set
    _tokens: tuple[Any, Any] | None = None

    def __enter__(self) -> "Started":
        call = self.call
        context = trace.set_span_in_context(call.span, without_propagated_values(otel_context.get_current()))
        self._tokens = (_in_flight.set(call), otel_context.attach(context))
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        if error is not None:
            self.call.fail(error)
        in_flight, attached = self._tokens  # type: ignore[misc]
        otel_context.detach(attached)
        _in_flight.reset(in_flight)


Start = Callable[[Any, tuple, dict], "Started | None"]  # (instance, args, kwargs)


def call_in_flight() -> LLMCall | None:
    """Our call whose SDK method is running in this context, if any."""
    return _in_flight.get()


def _start(start: Start, where: str, instance: Any, args: tuple, kwargs: dict) -> Started | None:
    if _in_flight.get() is not None:
        return None
    try:
        return start(instance, args, kwargs)
    except Exception as error:  # noqa: BLE001
        report(f"{where}.start", error)
        return None


def _observed(started: Started, where: str, value: Any) -> Any:
    try:
        return started.observe(value)
    except Exception as error:  # noqa: BLE001 - an unexpected result shape: still the SDK's result
        report(f"{where}.result", error)
        started.call.end(NOTHING)
        return value


def sync_wrapper(start: Start, where: str) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        started = _start(start, where, instance, args, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        with started:
            value = wrapped(*args, **(kwargs if started.kwargs is None else started.kwargs))
        return _observed(started, where, value)

    return wrapper


def async_wrapper(start: Start, where: str) -> Callable[..., Awaitable[Any]]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        started = _start(start, where, instance, args, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        with started:
            value = await wrapped(*args, **(kwargs if started.kwargs is None else started.kwargs))
        return _observed(started, where, value)

    return wrapper


def wrap(module: str, name: str, wrapper: Callable[..., Any]) -> bool:
    """``wrapt`` ``wrapper`` around ``module``'s ``name`` ("Class.method" or a function); an SDK
    release without it is left uninstrumented (logged), never an error in the app."""
    try:
        wrapt.wrap_function_wrapper(module, name, wrapper)
    except (AttributeError, ImportError) as error:
        report(f"instrument:{module}:{name}", error)
        return False
    return True


def unwrap_all(targets: list[tuple[str, str]]) -> None:
    """Undo :func:`wrap` for each (module, "Class.method" or function); missing ones are skipped."""
    for module, name in targets:
        owner_path, _, method = name.rpartition(".")
        try:
            owner: Any = importlib.import_module(module)
            for part in owner_path.split(".") if owner_path else ():
                owner = getattr(owner, part)
        except (AttributeError, ImportError):
            continue
        unwrap(owner, method)
