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
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
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
    speed: str | None = None  # Anthropic's inference speed: "fast" is priced at its own rates
    # What the provider says it charged, nano-USD by component (OpenRouter's usage.cost): the cost
    # then, rather than a price list's.
    charged: dict[str, int] | None = None

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


class _Attributes:
    """:func:`fields` of an object that is neither a mapping nor a pydantic model."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, key: str) -> Any:
        return getattr(self._obj, key, None)


_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


def fields(obj: Any) -> Any:
    """``obj``'s fields, for reading several of them: ``fields(obj).get(key)`` is
    ``get(obj, key)`` for a mapping or a plain object, and for a pydantic model its field or extra
    (not a property) at the cost of a dict lookup instead of a call of :func:`get` each."""
    kind = type(obj)
    read_as = _READ_AS.get(kind)
    if read_as is None:
        read_as = _READ_AS[kind] = _read_as(kind)
    if read_as == _BY_KEY:
        return obj
    if read_as == _MODEL:
        extra = obj.__pydantic_extra__
        return {**extra, **obj.__dict__} if extra else obj.__dict__
    return _NO_FIELDS if obj is None else _Attributes(obj)


def _int(value: Any) -> int | None:
    if type(value) is int:  # the common case, at once
        return value
    # bool is an int subclass; a provider never means True as a token count.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _put_counts(details: dict[str, int], source: Any, names: tuple[tuple[str, str], ...]) -> None:
    """``details[name] = source[key]`` for each (key, name) whose value is a token count;
    ``source`` is what :func:`fields` returns."""
    for key, name in names:
        value = source.get(key)
        if type(value) is int:  # the common case, without a call
            details[name] = value
        elif value is not None:
            number = _int(value)
            if number is not None:
                details[name] = number


# (usage field, Usage.details key) of the counts each provider reports beside the main ones.
_CHAT_PROMPT_DETAILS = (("audio_tokens", "audio_input"), ("image_tokens", "image_input"))
_CHAT_COMPLETION_DETAILS = (
    ("audio_tokens", "audio_output"),
    ("image_tokens", "image_output"),
    ("accepted_prediction_tokens", "accepted_prediction"),
    ("rejected_prediction_tokens", "rejected_prediction"),
)
# DeepSeek (OpenAI-compatible): cache hits and misses at the top level of usage.
_DEEPSEEK_CACHE = (("prompt_cache_hit_tokens", "cache_hit"), ("prompt_cache_miss_tokens", "cache_miss"))
_RESPONSES_WRITE_TTLS = (("ttl_30m_tokens", "cache_write_30m"), ("ttl_12h_tokens", "cache_write_12h"))
_RESPONSES_INPUT_DETAILS = (("audio_tokens", "audio_input"), ("image_tokens", "image_input"))
_RESPONSES_OUTPUT_DETAILS = (("image_tokens", "image_output"),)
_ANTHROPIC_WRITE_TTLS = (
    ("ephemeral_5m_input_tokens", "cache_write_5m"),
    ("ephemeral_1h_input_tokens", "cache_write_1h"),
)
_ANTHROPIC_SERVER_TOOLS = (("web_search_requests", "web_search_requests"), ("web_fetch_requests", "web_fetch_requests"))


def from_openai_chat(usage: Any) -> Usage:
    """Chat Completions ``usage`` (``prompt_tokens`` already includes cached tokens)."""
    if usage is None:
        return Usage()
    counts = fields(usage)
    prompt_details = fields(counts.get("prompt_tokens_details"))
    completion_details = fields(counts.get("completion_tokens_details"))
    details: dict[str, int] = {}
    _put_counts(details, prompt_details, _CHAT_PROMPT_DETAILS)
    _put_counts(details, completion_details, _CHAT_COMPLETION_DETAILS)
    _put_counts(details, counts, _DEEPSEEK_CACHE)
    cache_read = _int(prompt_details.get("cached_tokens"))
    return Usage(
        input_tokens=_int(counts.get("prompt_tokens")),
        output_tokens=_int(counts.get("completion_tokens")),
        cache_read_tokens=cache_read if cache_read is not None else details.get("cache_hit"),
        cache_write_tokens=_int(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
        details=details,
        charged=_charged(counts),
    )


def _charged(counts: Any) -> dict[str, int] | None:
    """OpenRouter's ``usage.cost``: USD (its credits) charged for the call; with the user's own
    provider key (``is_byok``) that is OpenRouter's fee, the provider's own charge being
    ``cost_details.upstream_inference_cost``. Both in nano-USD; None when not a sane amount."""
    cost = counts.get("cost")
    if cost is None:  # every provider but OpenRouter: no call of _nanos
        return None
    charged = _nanos(cost)
    if charged is None:
        return None
    if counts.get("is_byok") is True:
        upstream = _nanos(fields(counts.get("cost_details")).get("upstream_inference_cost"))
        if upstream is not None:
            return {"charged": charged, "upstream_charged": upstream}
    return {"charged": charged}


def _nanos(usd: Any) -> int | None:
    if isinstance(usd, bool) or not isinstance(usd, (int, float)) or not 0 <= usd < 1e6:
        return None  # NaN fails the range check too
    return int(Decimal(repr(usd)).scaleb(9).to_integral_value(ROUND_HALF_EVEN))


def from_openai_responses(usage: Any) -> Usage:
    """Responses API ``usage`` (``input_tokens`` already includes cached tokens)."""
    if usage is None:
        return Usage()
    counts = fields(usage)
    input_details = fields(counts.get("input_tokens_details"))
    output_details = fields(counts.get("output_tokens_details"))
    details: dict[str, int] = {}
    _put_counts(details, fields(input_details.get("cache_write_tokens_details")), _RESPONSES_WRITE_TTLS)
    _put_counts(details, input_details, _RESPONSES_INPUT_DETAILS)
    _put_counts(details, output_details, _RESPONSES_OUTPUT_DETAILS)
    return Usage(
        input_tokens=_int(counts.get("input_tokens")),
        output_tokens=_int(counts.get("output_tokens")),
        cache_read_tokens=_int(input_details.get("cached_tokens")),
        cache_write_tokens=_int(input_details.get("cache_write_tokens")),
        reasoning_tokens=_int(output_details.get("reasoning_tokens")),
        details=details,
        charged=_charged(counts),
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
    counts = fields(usage)
    uncached = _int(counts.get("input_tokens"))
    cache_read = _int(counts.get("cache_read_input_tokens"))
    cache_write = _int(counts.get("cache_creation_input_tokens"))
    details: dict[str, int] = {}
    _put_counts(details, fields(counts.get("cache_creation")), _ANTHROPIC_WRITE_TTLS)
    _put_counts(details, fields(counts.get("server_tool_use")), _ANTHROPIC_SERVER_TOOLS)
    _put_billed_iterations(details, counts.get("iterations"))
    if cache_write is None and details.keys() & {"cache_write_5m", "cache_write_1h"}:
        cache_write = details.get("cache_write_5m", 0) + details.get("cache_write_1h", 0)
    parts = [n for n in (uncached, cache_read, cache_write) if n is not None]
    return Usage(
        input_tokens=sum(parts) if uncached is not None else None,
        output_tokens=_int(counts.get("output_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=_int(get(counts.get("output_tokens_details"), "thinking_tokens")),
        details=details,
        service_tier=_text(counts.get("service_tier")),
        speed=_text(counts.get("speed")),
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
            "speed",
            "iterations",
        ):
            value = get(source, key)
            if value is not None:
                merged[key] = value
    return from_anthropic(merged)
