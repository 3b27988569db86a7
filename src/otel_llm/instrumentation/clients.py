"""Facts about an SDK client, worked out on its first call and kept while they hold.

Who serves a client (``gen_ai.provider.name``) and where its calls go are the same for every call
until its base URL changes, and working them out (URL parts, provider markers, the
``OTEL_LLM_PROVIDERS`` setting) costs more than the rest of starting a call.  So they are kept
per client, with the state they were worked out from (the client's type, its base URL object,
``declare_provider`` declarations...), and worked out again when that state differs.
``OTEL_LLM_PROVIDERS`` is read on a client's first call (and again after its base URL changes).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from otel_llm.pricing.providers import declarations_version

T = TypeVar("T")

_LIMIT = 1024  # clients made per request: forget them all, rather than grow
# id(client) -> (state, facts).  The state holds the client's type and base URL, so another
# client given the same id matches only if its facts are the same.
_FACTS: dict[int, tuple[tuple[Any, ...], Any]] = {}


def client_facts(client: Any, state: tuple[Any, ...], work_out: Callable[[Any], T]) -> T:
    """``work_out(client)``, kept for ``client`` while ``state`` (its type and base URL object,
    and whatever else ``work_out`` reads from the client) stays the same."""
    state = (*state, declarations_version())
    cached = _FACTS.get(id(client))
    if cached is not None and cached[0] == state:
        return cached[1]
    facts = work_out(client)
    if len(_FACTS) >= _LIMIT:
        _FACTS.clear()
    _FACTS[id(client)] = (state, facts)
    return facts
