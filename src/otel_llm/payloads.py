"""Full payloads of an in-process LLM span, for the ``llm_traces`` rows of every exporter of it.

Our instrumentors put the content on the span as the GenAI conventions say, so every processor
and exporter sees it, cut to the SDK's attribute limits (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``).
The row must hold the whole request and response, so the instrumentor also keeps them with
the span itself: on the SDK's attribute container, which the span and every ``ReadableSpan``
made of it share, so they live exactly as long as the span, with no process-wide store that
could fill up when no exporter of ours reads them.  The objects are serialized (and redacted)
off the caller's thread, by the first exporter that asks; any further exporter gets the same texts.
"""

from __future__ import annotations

import json
import threading
from json import encoder as _json_encoder
from typing import Any, Mapping

from otel_llm import redaction

_KEPT = "_otel_llm_full_payloads"  # the attribute of the span's attribute container holding them
_serializing = threading.Lock()  # held by exporters' threads only: each object is serialized once


class _Kept:
    __slots__ = ("texts", "objects")

    def __init__(self, texts: dict[str, str], objects: dict[str, Any]) -> None:
        self.texts = texts  # attribute -> text as it went on the span (already redacted)
        self.objects = objects  # attribute -> payload object, serialized on first read


def keep(span: Any, texts: dict[str, str], objects: dict[str, Any]) -> None:
    """Keep the span's full payloads with it: ``texts`` ready (redacted), ``objects`` to serialize.

    A span without the SDK's attribute container (another API implementation) keeps nothing:
    its rows then hold what its attributes hold.
    """
    container = getattr(span, "_attributes", None)
    if hasattr(container, "__dict__"):
        container.__dict__[_KEPT] = _Kept(texts, objects)


def full_payloads(span: Any) -> Mapping[str, str] | None:
    """The span's full payloads as texts (attribute -> JSON), redacted, or None if none were kept."""
    kept = getattr(getattr(span, "_attributes", None), _KEPT, None)
    if kept is None:
        return None
    if kept.objects:
        with _serializing:
            objects = kept.objects
            if objects:  # else another exporter did it while this one waited
                texts = dict(kept.texts)
                for key, value in objects.items():
                    texts[key] = redaction.redact(to_json(value))
                kept.texts = texts  # before objects are cleared: a reader without the lock sees one or the other
                kept.objects = None
    return kept.texts


def to_json(value: Any) -> str:
    """Compact JSON of a payload: SDK models as the fields they were given, unknowns by type name."""
    dump_json = getattr(value, "model_dump_json", None)
    if dump_json is not None:
        # A response model straight to JSON in pydantic's own serializer: about half the time of
        # model_dump() and our encoder (benchmarks/README.md), the same text.
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
