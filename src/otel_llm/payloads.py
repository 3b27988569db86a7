"""Full payloads handed from in-process instrumentors to the exporter, beside the span.

The SDK may truncate span attributes (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) before any exporter
sees them, yet the ``llm_traces`` row must hold the whole request and response.  Instrumentors
therefore also leave the untruncated strings here, keyed by span, and the exporter takes them.
Nothing is kept unless an exporter has called :func:`enable`, and the total is bounded so spans
that never reach an exporter (sampled out, dropped) cannot grow memory without limit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_MAX_BYTES = 256 * 1024 * 1024

_lock = threading.Lock()
_by_span: OrderedDict[tuple[int, int], dict[str, str]] = OrderedDict()
_held_bytes = 0
_max_bytes = 0  # 0 = disabled: no exporter wants payloads


def enable(max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    global _max_bytes
    _max_bytes = max(_max_bytes, max_bytes)


def enabled() -> bool:
    return _max_bytes > 0


def stash(trace_id: int, span_id: int, attribute: str, value: str) -> None:
    """Keep ``value`` for ``attribute`` of the span; oldest spans are evicted past the bound."""
    global _held_bytes
    if not _max_bytes:
        return
    size = len(value)
    with _lock:
        entry = _by_span.setdefault((trace_id, span_id), {})
        previous = entry.get(attribute)
        if previous is not None:
            _held_bytes -= len(previous)
        entry[attribute] = value
        _held_bytes += size
        while _held_bytes > _max_bytes and _by_span:
            _, evicted = _by_span.popitem(last=False)
            _held_bytes -= sum(len(v) for v in evicted.values())


def take(trace_id: int, span_id: int) -> dict[str, str] | None:
    """The span's full payloads (attribute -> value), removed from the stash; None if absent."""
    global _held_bytes
    if not _by_span:
        return None
    with _lock:
        entry = _by_span.pop((trace_id, span_id), None)
        if entry:
            _held_bytes -= sum(len(v) for v in entry.values())
        return entry
