"""``llm_context``: who an LLM call belongs to, attached to every span created inside it.

The values live in OpenTelemetry baggage, so they follow contextvars (threads started with a
copied context, asyncio tasks) and, with the default ``tracecontext,baggage`` propagators, travel
to downstream services: a gateway can set billing once for every service behind it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Iterable, TypeVar

from opentelemetry import baggage
from opentelemetry import context as otel_context

from otel_llm import attributes as attr

F = TypeVar("F", bound=Callable[..., Any])

# llm_context keyword -> (baggage key, span attribute).  The baggage key is the attribute name so
# a downstream service reading raw baggage sees the same names as the span.
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


def _encode(name: str, value: Any) -> str:
    if name == "is_byok":
        if not isinstance(value, bool):
            raise TypeError(f"llm_context(is_byok=...) must be True or False, got {value!r}")
        return "true" if value else "false"
    if name == "agent_tags":
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise TypeError(f"llm_context(agent_tags=...) must be a list of strings, got {value!r}")
        tags = [str(tag) for tag in value]
        bad = [tag for tag in tags if _TAG_SEPARATOR in tag]
        if bad:
            raise ValueError(f"llm_context agent tags may not contain ',': {bad!r}")
        return _TAG_SEPARATOR.join(tags)
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
            FIELDS[name]: _encode(name, value) for name, value in given.items() if value is not None
        }
        self._tokens: list[object] = []

    def __enter__(self) -> "llm_context":
        ctx = otel_context.get_current()
        for key, value in self._values.items():
            if key == attr.AGENT_TAGS:
                value = _merge_tags(baggage.get_baggage(key, ctx), value)
            ctx = baggage.set_baggage(key, value, ctx)
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


def _merge_tags(outer: object, inner: str) -> str:
    if not outer:
        return inner
    tags = str(outer).split(_TAG_SEPARATOR)
    tags += [tag for tag in inner.split(_TAG_SEPARATOR) if tag not in tags]
    return _TAG_SEPARATOR.join(tags)


_ATTRIBUTE_KEYS = frozenset(FIELDS.values())


def current_attributes() -> dict[str, Any]:
    """Span attributes for the active llm_context (and matching incoming baggage)."""
    entries = baggage.get_all()
    if not entries:
        return {}
    found: dict[str, Any] = {}
    for key, value in entries.items():
        if key not in _ATTRIBUTE_KEYS:
            continue
        if key == attr.AGENT_TAGS:
            found[key] = [tag for tag in str(value).split(_TAG_SEPARATOR) if tag]
        elif key == attr.IS_BYOK:
            found[key] = str(value).lower() == "true"
        else:
            found[key] = str(value)
    return found
