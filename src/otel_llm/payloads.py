"""Full payloads handed from in-process instrumentors to the exporter, beside the span.

The SDK may truncate span attributes (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) before any exporter
sees them, yet the ``llm_traces`` row must hold the whole request and response.  Instrumentors
therefore leave the payload objects here, keyed by span, and the exporter takes them and
serializes them on its own thread, off the application's hot path.

Nothing is kept unless an exporter is alive: each one calls :func:`enable` when created and
:func:`disable` at shutdown.  Spans that never reach the exporter (dropped by a full span queue)
would leave entries behind, so the stash holds at most ``MAX_SPANS`` spans, oldest forgotten first.
"""

from __future__ import annotations

import json
import os
import threading
from json import encoder as _json_encoder
from collections import OrderedDict
from typing import Any

from otel_llm import redaction

MAX_SPANS = 10_000

_lock = threading.Lock()
_by_span: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
_exporters = 0  # live exporters wanting payloads; 0 = instrumentors put payloads on spans


def _reset_after_fork() -> None:
    # A forked child inherits the lock as it was: held for good if another thread held it at the
    # fork. What is stashed belongs to the parent's spans, which the child never exports.
    global _lock
    _lock = threading.Lock()
    _by_span.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


def enable() -> None:
    global _exporters
    with _lock:
        _exporters += 1


def disable() -> None:
    """Undo one :func:`enable`; the last one out drops what is still stashed."""
    global _exporters
    with _lock:
        _exporters = max(_exporters - 1, 0)
        if not _exporters:
            _by_span.clear()


def enabled() -> bool:
    return _exporters > 0


def stash(trace_id: int, span_id: int, attribute: str, value: Any) -> None:
    """Keep ``value`` (a string or a JSON-serializable object) as the span's ``attribute``."""
    stash_all(trace_id, span_id, {attribute: value})


def stash_all(trace_id: int, span_id: int, values: dict[str, Any]) -> None:
    """:func:`stash` for several attributes of one span, under one acquisition of the lock;
    ``values`` is kept as it is, so the caller hands it over."""
    if not _exporters:
        return
    with _lock:
        entry = _by_span.get((trace_id, span_id))
        if entry is None:
            _by_span[(trace_id, span_id)] = values
            if len(_by_span) > MAX_SPANS:
                _by_span.popitem(last=False)
        else:
            entry.update(values)


def take(trace_id: int, span_id: int) -> dict[str, str] | None:
    """The span's full payloads as JSON strings (attribute -> text), removed from the stash."""
    if not _by_span:
        return None
    with _lock:
        entry = _by_span.pop((trace_id, span_id), None)
    if not entry:
        return None
    texts = {key: value if isinstance(value, str) else to_json(value) for key, value in entry.items()}
    if redaction.active() is not None:
        texts = {key: redaction.redact(text) for key, text in texts.items()}
    return texts


def to_json(value: Any) -> str:
    """Compact JSON of a payload: SDK models as the fields they were given, unknowns by type name."""
    dump_json = getattr(value, "model_dump_json", None)
    if dump_json is not None:
        # A response model straight to JSON in pydantic's own serializer: half the time of
        # model_dump() and our encoder (ChatCompletion: 3.7 against 7.0 us), the same text.
        try:
            return dump_json(exclude_unset=True, warnings=False)
        except Exception:  # noqa: BLE001 - pydantic v1, or a value pydantic cannot serialize
            pass
    if _encode is None:
        return _ENCODER.encode(value)
    return "".join(_encode(value, 0))


def _jsonable(value: Any) -> Any:
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        # exclude_unset keeps what came over the wire, not every default of the SDK's model;
        # a provider value of an unexpected type is kept as sent, without a warning in the app.
        return model_dump(mode="json", exclude_unset=True, warnings=False)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return f"<{type(value).__name__}>"


# One encoder for every payload: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=_jsonable, ensure_ascii=False, separators=(",", ":"))
# What _ENCODER.encode runs, built once: encode() makes a new C encoder per call, which costs as
# much as encoding a chat request.  Same output, with one difference: no circular-reference
# bookkeeping (a shared ``markers`` dict would be wrong across threads), so a payload that
# contains itself fails with RecursionError instead of ValueError; callers catch either.
_c_make_encoder = getattr(_json_encoder, "c_make_encoder", None)
_encode = (
    _c_make_encoder(None, _jsonable, _json_encoder.encode_basestring, None, ":", ",", False, False, True)
    if _c_make_encoder is not None
    else None
)
