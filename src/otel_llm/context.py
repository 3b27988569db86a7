"""``llm_context``: who an LLM call belongs to, attached to every span created inside it.

The values live in an OpenTelemetry context key of their own, so they follow contextvars (threads
started with a copied context, asyncio tasks) the way trace context does, and go nowhere else:
not into W3C baggage, not into any outgoing request.

Cross-service propagation is opt-in, with one setting, ``OTEL_LLM_CONTEXT_PROPAGATION``
(comma-separated): ``send`` also puts the values into W3C baggage, so a gateway's billing context
reaches the services behind it; ``accept`` uses ``otel_llm`` baggage arriving from outside for the
calls of this service (below any ``llm_context`` it sets itself).  Either way, the instrumentors
remove these entries from the context while the SDK sends a request: they never reach an LLM
provider.  Attribution is billing data and baggage is whatever the caller sent: turn ``accept``
on only in a service whose callers are trusted (behind your own gateway, which sets or strips
the entries), never on one that takes requests from the internet.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from typing import Any, Callable, Iterable, TypeVar

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from otel_llm import attributes as attr

logger = logging.getLogger(__name__)

PROPAGATION_ENV = "OTEL_LLM_CONTEXT_PROPAGATION"
_PROPAGATION_MODES = frozenset({"send", "accept"})
# The active llm_context's values: span attribute -> value, as the span gets it.
_VALUES_KEY = otel_context.create_key("otel_llm.llm_context")

F = TypeVar("F", bound=Callable[..., Any])

# llm_context keyword -> span attribute.  With propagation on, the baggage key is the attribute
# name, so a downstream service reading raw baggage sees the same names as the span.
FIELDS: dict[str, str] = {
    "agent_id": attr.AGENT_ID,
    "agent_tags": attr.AGENT_TAGS,
    "run_id": attr.RUN_ID,
    "step_id": attr.STEP_ID,
    "call_type": attr.CALL_TYPE,
    "organization_id": attr.ORGANIZATION_ID,
    "project_id": attr.PROJECT_ID,
    "user_id": attr.USER_ID,
    "conversation_id": attr.CONVERSATION_ID,
    "plan_type": attr.BILLING_PLAN_TYPE,
    "cost_source": attr.BILLING_COST_SOURCE,
    "customer_id": attr.BILLING_CUSTOMER_ID,
    "is_byok": attr.IS_BYOK,
}
_TAG_SEPARATOR = ","


def _checked(name: str, value: Any) -> Any:
    """``value`` as the span attribute holds it: a string, a list of tag strings, or a bool."""
    if name == "is_byok":
        if not isinstance(value, bool):
            raise TypeError(f"llm_context(is_byok=...) must be True or False, got {value!r}")
        return value
    if name == "agent_tags":
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise TypeError(f"llm_context(agent_tags=...) must be a list of strings, got {value!r}")
        tags = [str(tag) for tag in value]
        bad = [tag for tag in tags if _TAG_SEPARATOR in tag]
        if bad:
            raise ValueError(f"llm_context agent tags may not contain ',': {bad!r}")
        return tags
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise TypeError(f"llm_context({name}=...) must be a string, got {value!r}")
    return str(value)


class llm_context:  # noqa: N801 - used like contextlib's lower-case context managers
    """Context manager and decorator (sync and async) tagging LLM calls made inside it.

    >>> with llm_context(customer_id="acme", plan_type="pro", agent_id="support-bot"):
    ...     client.chat.completions.create(...)

    Nested contexts inherit what they do not set; ``agent_tags`` accumulate.
    """

    def __init__(
        self,
        *,
        agent_id: str | None = None,
        agent_tags: Iterable[str] | None = None,
        run_id: str | None = None,
        step_id: str | None = None,
        call_type: str | None = None,
        organization_id: str | None = None,
        project_id: str | None = None,
        user_id: str | None = None,
        conversation_id: str | None = None,
        plan_type: str | None = None,
        cost_source: str | None = None,
        customer_id: str | None = None,
        is_byok: bool | None = None,
    ) -> None:
        given = dict(locals())
        del given["self"]
        self._values = {
            FIELDS[name]: _checked(name, value) for name, value in given.items() if value is not None
        }
        self._tokens: list[object] = []

    def __enter__(self) -> "llm_context":
        ctx = otel_context.get_current()
        values = dict(ctx.get(_VALUES_KEY) or {})
        for key, value in self._values.items():
            values[key] = _merged_tags(values.get(key), value) if key == attr.AGENT_TAGS else value
        ctx = otel_context.set_value(_VALUES_KEY, values, ctx)
        if "send" in propagation():
            for key, value in values.items():
                ctx = baggage.set_baggage(key, _baggage_text(value), ctx)
        self._tokens.append(otel_context.attach(ctx))
        return self

    def __exit__(self, *exc_info: object) -> None:
        otel_context.detach(self._tokens.pop())

    async def __aenter__(self) -> "llm_context":
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def __call__(self, func: F) -> F:
        # A fresh manager per call keeps concurrent invocations of one decorated function apart.
        values = self._values

        def fresh() -> llm_context:
            manager = llm_context.__new__(llm_context)
            manager._values = values
            manager._tokens = []
            return manager

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with fresh():
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _merged_tags(outer: list[str] | None, inner: list[str]) -> list[str]:
    if not outer:
        return inner
    return outer + [tag for tag in inner if tag not in outer]


def _baggage_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return _TAG_SEPARATOR.join(value)
    return value


def _from_baggage(key: str, text: object) -> Any:
    if key == attr.AGENT_TAGS:
        return [tag for tag in str(text).split(_TAG_SEPARATOR) if tag]
    if key == attr.IS_BYOK:
        return str(text).lower() == "true"
    return str(text)


_ATTRIBUTE_KEYS = frozenset(FIELDS.values())


@functools.cache
def _propagation(setting: str) -> frozenset[str]:
    modes = frozenset(mode.strip().lower() for mode in setting.split(",") if mode.strip()) - {"none"}
    unknown = modes - _PROPAGATION_MODES
    if unknown:
        logger.warning("otel-llm: %s=%r: ignoring %s (takes send, accept or both)", PROPAGATION_ENV, setting, sorted(unknown))
    return modes & _PROPAGATION_MODES


def propagation() -> frozenset[str]:
    """The cross-service propagation modes on (``send``, ``accept``); none by default."""
    return _propagation(os.environ.get(PROPAGATION_ENV, ""))


def current_attributes(ctx: Context | None = None) -> dict[str, Any]:
    """Span attributes for the active llm_context (and, when accepted, incoming baggage)."""
    if ctx is None:
        ctx = otel_context.get_current()  # once, for both reads below
    values = ctx.get(_VALUES_KEY)
    # Baggage first: without entries of ours (the common case) the setting does not matter, and
    # reading the environment costs more than the rest of this function.
    entries = baggage.get_all(ctx)
    if not entries or _ATTRIBUTE_KEYS.isdisjoint(entries) or "accept" not in propagation():
        return dict(values) if values else {}
    found = {key: _from_baggage(key, text) for key, text in entries.items() if key in _ATTRIBUTE_KEYS}
    if values:
        found.update(values)
    return found


def without_propagated_values(ctx: Context) -> Context:
    """``ctx`` without llm_context entries in its baggage: what an SDK may send to a provider."""
    entries = baggage.get_all(ctx)
    if not entries or _ATTRIBUTE_KEYS.isdisjoint(entries):
        return ctx
    for key in _ATTRIBUTE_KEYS.intersection(entries):
        ctx = baggage.remove_baggage(key, ctx)
    return ctx
