"""Token usage normalized to one convention for every provider.

- ``input_tokens``: ALL input tokens, cache reads and cache writes included.
- ``cache_read_tokens`` / ``cache_write_tokens``: subsets of input.
- ``output_tokens``: all output, reasoning included; ``reasoning_tokens`` is a subset.
- ``None`` means the provider did not say; 0 means it said 0.  Nothing is invented.
- ``details``: provider-specific counts kept for the row's ``usage_details`` map and for pricing
  (``pricing/cost.py`` says which are priced): ``cache_write_5m`` / ``cache_write_1h`` (Anthropic
  cache-write TTLs), ``audio_input`` / ``audio_output`` / ``image_input`` (OpenAI),
  ``cache_hit`` / ``cache_miss`` (DeepSeek), ``web_search_requests`` (Anthropic server tools),
  ``compaction_*`` / ``advisor_*`` (Anthropic iterations billed beyond the top-level usage).
- ``service_tier``: the tier the response says it was served at (OpenAI ``flex``, ``priority``...,
  Anthropic ``standard``, ``priority``, ``batch``): it is priced at that tier.

Every ``from_*`` accepts the SDK's pydantic object or the plain dict of the wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    details: dict[str, int] = field(default_factory=dict)
    service_tier: str | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


# type -> how its instances are read: by key (mappings), as a pydantic model (SDK types), or by
# attribute. An isinstance check against an ABC is slow next to a dict lookup and these reads run a
# few dozen times per call; the types an SDK hands out are few, so each is checked once
# (benchmarks/README.md).
_BY_KEY, _MODEL, _BY_ATTRIBUTE = 0, 1, 2
_READ_AS: dict[type, int] = {dict: _BY_KEY, type(None): _BY_ATTRIBUTE}
_ABSENT = object()
_ON_CLASS: dict[tuple[type, str], bool] = {}  # (model type, name) -> the class has it (a property)


def _read_as(kind: type) -> int:
    if issubclass(kind, Mapping):
        return _BY_KEY
    return _MODEL if hasattr(kind, "__pydantic_fields__") else _BY_ATTRIBUTE


def get(obj: Any, key: str) -> Any:
    """``obj[key]`` of a mapping, ``obj.key`` of anything else; None when absent (or obj is None)."""
    kind = type(obj)
    read_as = _READ_AS.get(kind)
    if read_as is None:
        read_as = _READ_AS[kind] = _read_as(kind)
    if read_as == _BY_KEY:
        return obj.get(key)
    if read_as == _MODEL:
        # A field a pydantic model lacks makes getattr raise inside pydantic's __getattr__, ~30x a
        # hit; providers' extra fields (DeepSeek's cache counts) are in __pydantic_extra__.
        value = obj.__dict__.get(key, _ABSENT)
        if value is not _ABSENT:
            return value
        extra = obj.__pydantic_extra__
        if extra and key in extra:
            return extra[key]
        on_class = _ON_CLASS.get((kind, key))
        if on_class is None:  # a property or method is read as usual below
            on_class = _ON_CLASS[(kind, key)] = hasattr(kind, key)
        if not on_class:
            return None
    return getattr(obj, key, None)


def _int(value: Any) -> int | None:
    # bool is an int subclass; a provider never means True as a token count.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _put(details: dict[str, int], key: str, value: Any) -> None:
    number = _int(value)
    if number is not None:
        details[key] = number


def from_openai_chat(usage: Any) -> Usage:
    """Chat Completions ``usage`` (``prompt_tokens`` already includes cached tokens)."""
    if usage is None:
        return Usage()
    prompt_details = get(usage, "prompt_tokens_details")
    completion_details = get(usage, "completion_tokens_details")
    details: dict[str, int] = {}
    _put(details, "audio_input", get(prompt_details, "audio_tokens"))
    _put(details, "image_input", get(prompt_details, "image_tokens"))
    _put(details, "audio_output", get(completion_details, "audio_tokens"))
    _put(details, "image_output", get(completion_details, "image_tokens"))
    _put(details, "accepted_prediction", get(completion_details, "accepted_prediction_tokens"))
    _put(details, "rejected_prediction", get(completion_details, "rejected_prediction_tokens"))
    # DeepSeek (OpenAI-compatible): cache hits and misses at the top level of usage.
    cache_hit = _int(get(usage, "prompt_cache_hit_tokens"))
    _put(details, "cache_hit", cache_hit)
    _put(details, "cache_miss", get(usage, "prompt_cache_miss_tokens"))
    cache_read = _int(get(prompt_details, "cached_tokens"))
    return Usage(
        input_tokens=_int(get(usage, "prompt_tokens")),
        output_tokens=_int(get(usage, "completion_tokens")),
        cache_read_tokens=cache_read if cache_read is not None else cache_hit,
        cache_write_tokens=_int(get(prompt_details, "cache_write_tokens")),
        reasoning_tokens=_int(get(completion_details, "reasoning_tokens")),
        details=details,
    )


def from_openai_responses(usage: Any) -> Usage:
    """Responses API ``usage`` (``input_tokens`` already includes cached tokens)."""
    if usage is None:
        return Usage()
    input_details = get(usage, "input_tokens_details")
    output_details = get(usage, "output_tokens_details")
    details: dict[str, int] = {}
    write_ttls = get(input_details, "cache_write_tokens_details")
    _put(details, "cache_write_30m", get(write_ttls, "ttl_30m_tokens"))
    _put(details, "cache_write_12h", get(write_ttls, "ttl_12h_tokens"))
    _put(details, "audio_input", get(input_details, "audio_tokens"))
    _put(details, "image_input", get(input_details, "image_tokens"))
    _put(details, "image_output", get(output_details, "image_tokens"))
    return Usage(
        input_tokens=_int(get(usage, "input_tokens")),
        output_tokens=_int(get(usage, "output_tokens")),
        cache_read_tokens=_int(get(input_details, "cached_tokens")),
        cache_write_tokens=_int(get(input_details, "cache_write_tokens")),
        reasoning_tokens=_int(get(output_details, "reasoning_tokens")),
        details=details,
    )


def from_openai_embeddings(usage: Any) -> Usage:
    """Embeddings ``usage``: input only; embeddings produce no output tokens."""
    if usage is None:
        return Usage()
    return Usage(input_tokens=_int(get(usage, "prompt_tokens")), output_tokens=0)


def from_anthropic(usage: Any) -> Usage:
    """Anthropic ``usage``; its ``input_tokens`` EXCLUDES cache reads and writes, so add them."""
    if usage is None:
        return Usage()
    uncached = _int(get(usage, "input_tokens"))
    cache_read = _int(get(usage, "cache_read_input_tokens"))
    cache_write = _int(get(usage, "cache_creation_input_tokens"))
    details: dict[str, int] = {}
    ttl_split = get(usage, "cache_creation")
    _put(details, "cache_write_5m", get(ttl_split, "ephemeral_5m_input_tokens"))
    _put(details, "cache_write_1h", get(ttl_split, "ephemeral_1h_input_tokens"))
    server_tools = get(usage, "server_tool_use")
    _put(details, "web_search_requests", get(server_tools, "web_search_requests"))
    _put(details, "web_fetch_requests", get(server_tools, "web_fetch_requests"))
    _put_billed_iterations(details, get(usage, "iterations"))
    if cache_write is None and details.keys() & {"cache_write_5m", "cache_write_1h"}:
        cache_write = details.get("cache_write_5m", 0) + details.get("cache_write_1h", 0)
    parts = [n for n in (uncached, cache_read, cache_write) if n is not None]
    return Usage(
        input_tokens=sum(parts) if uncached is not None else None,
        output_tokens=_int(get(usage, "output_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=_int(get(get(usage, "output_tokens_details"), "thinking_tokens")),
        details=details,
        service_tier=_text(get(usage, "service_tier")),
    )


# Iteration kinds whose tokens the top-level usage leaves out, although they are billed:
# compactions (the SDK's BetaIterationsUsage: "A compaction entry's tokens are not included in
# the top-level usage fields"), by the call's model, and advisor sub-inferences, at the advisor
# model's rates (the top-level usage counts the executor's tokens).  ``message`` iterations ARE
# the top level.  Kept in ``details`` as ``<kind>_<part>`` (``compaction_input``) and, for an
# advisor, ``advisor_<part>@<model>``: the row keeps what prices them, whoever prices it later.
_BILLED_ITERATIONS = {"compaction": "compaction", "advisor_message": "advisor"}
ITERATION_PARTS = (
    ("input_tokens", "input"),
    ("cache_read_input_tokens", "cache_read"),
    ("cache_creation_input_tokens", "cache_write"),
    ("output_tokens", "output"),
)


def _put_billed_iterations(details: dict[str, int], iterations: Any) -> None:
    if not isinstance(iterations, (list, tuple)):
        return
    for entry in iterations:
        kind = _BILLED_ITERATIONS.get(get(entry, "type"))
        if kind is None:
            continue
        model = get(entry, "model")
        suffix = f"@{model}" if kind == "advisor" and isinstance(model, str) and model else ""
        for field_name, part in ITERATION_PARTS:
            number = _int(get(entry, field_name))
            if number:
                key = f"{kind}_{part}{suffix}"
                details[key] = details.get(key, 0) + number


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def merge_anthropic_stream(start: Any, delta: Any) -> Usage:
    """Usage of an Anthropic stream: ``message_start`` usage updated by ``message_delta`` usage.

    Later deltas win field by field; the delta's counts are cumulative, not increments.
    """
    merged: dict[str, Any] = {}
    for source in (start, delta):
        if source is None:
            continue
        for key in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "cache_creation",
            "server_tool_use",
            "output_tokens_details",
            "service_tier",
            "iterations",
        ):
            value = get(source, key)
            if value is not None:
                merged[key] = value
    return from_anthropic(merged)
