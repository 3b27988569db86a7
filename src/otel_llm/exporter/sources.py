"""Spans from GenAI producers, renamed to the attributes otel-llm's instrumentors write.

Works on plain attribute mappings plus the span's instrumentation scope (the OTLP receiver has
no ReadableSpan of its own making).  :func:`normalize` returns ``None`` for a span that is not a
call to a provider (no LLM span at all, or an agent / workflow / step / tool span, which must
never add cost or tokens), the SAME mapping (no copy) when nothing needs renaming — our own
spans, the common case — and otherwise a new dict in which each foreign key that has a column is
replaced by our name, so it is not also kept among the leftover attributes.

Which producer made a span is decided from evidence, strongest first: the instrumentation scope
name (and version, where a producer changed its convention), then the attribute families only
one producer writes.  ``PRODUCERS`` is the one table of what each producer is recognised by and
how it counts Anthropic input; ``docs/exporter.md`` shows it to users.

Token convention (DESIGN.md): input includes cache reads and writes.  OpenAI's own input counts
already do.  Anthropic's raw ``input_tokens`` does not, and producers differ in whether they add
the cache back; the table says which do.  The numbers overrule the table: an input smaller than
its own cache read + write cannot include them, so the cache is added whatever the table says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from otel_llm import attributes as attr
from otel_llm.exporter import ai_sdk, foreign

TOTAL_TOKENS = foreign.TOTAL_TOKENS
CONTENT_TRUNCATED_FLAGS = foreign.CONTENT_TRUNCATED_FLAGS
FOREIGN_PAYLOAD_ATTRIBUTES = foreign.FOREIGN_PAYLOAD_ATTRIBUTES

# How a producer counts Anthropic input.
INCLUDES_CACHE = "includes cache"  # input_tokens already has cache reads and writes in it
EXCLUDES_CACHE = "excludes cache"  # Anthropic's raw input_tokens: the cache is added
BY_NUMBERS = "by the numbers"  # versions differ or unknown: only an input < cache gets the cache added

# Semconv operations that are not a call to a provider: an agent run, a step, a tool, a workflow
# (their usage, where present, is a sum of the calls inside them, which are rows of their own).
NOT_CALLS = frozenset(
    {"invoke_agent", "create_agent", "execute_tool", "invoke_workflow", "agent_step", "step", "workflow", "tool"}
)


@dataclass(frozen=True)
class Producer:
    name: str
    scopes: tuple[str, ...]  # instrumentation scope names (a name followed by "." also matches)
    anthropic_input: str
    translate: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
    # Where the convention changed with the producer's version: (first version, convention from it).
    changed_at: tuple[tuple[int, ...], str] | None = None


def _as_is(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    return attributes


PRODUCERS: dict[str, Producer] = {
    "otel-llm": Producer("otel-llm", ("otel_llm.openai", "otel_llm.anthropic"), INCLUDES_CACHE, _as_is),
    "anthropic-sdk": Producer(
        "Anthropic SDK (Python, TypeScript)",
        ("com.anthropic.sdk.python", "com.anthropic.sdk.typescript"),
        INCLUDES_CACHE,
        foreign.from_anthropic_sdk,
    ),
    "openllmetry-js": Producer(
        "OpenLLMetry JS",
        ("@traceloop/instrumentation-",),
        EXCLUDES_CACHE,
        foreign.from_openllmetry,
    ),
    "openllmetry": Producer(
        "OpenLLMetry Python / OTel contrib",
        ("opentelemetry.instrumentation.",),
        BY_NUMBERS,
        foreign.from_openllmetry,
    ),
    "openinference": Producer(
        "OpenInference (Python, JS)",
        ("openinference.instrumentation.", "@arizeai/openinference-"),
        INCLUDES_CACHE,
        foreign.from_openinference,
    ),
    "vercel-ai": Producer("Vercel AI SDK (ai.* spans)", ("ai",), INCLUDES_CACHE, ai_sdk.from_vercel_ai),
    "vercel-ai-genai": Producer("Vercel AI SDK 7 @ai-sdk/otel (gen_ai spans)", ("gen_ai",), INCLUDES_CACHE, ai_sdk.from_genai_semconv),
    "pydantic-ai": Producer("pydantic-ai", ("pydantic-ai",), INCLUDES_CACHE, ai_sdk.from_genai_semconv),
    "logfire": Producer(
        "Logfire", ("logfire",), EXCLUDES_CACHE, foreign.from_logfire, changed_at=((4, 31, 0), INCLUDES_CACHE)
    ),
    "genai-semconv": Producer("OTel GenAI semantic conventions", (), BY_NUMBERS, ai_sdk.from_genai_semconv),
}

_OUR_SCOPES = frozenset(PRODUCERS["otel-llm"].scopes)
# Scope name -> producer key, for the exact names above; prefixes are tried after.
_BY_SCOPE = {scope: key for key, p in PRODUCERS.items() for scope in p.scopes if not scope.endswith((".", "-"))}
_SCOPE_PREFIXES = tuple(
    (scope, key) for key, p in PRODUCERS.items() for scope in p.scopes if scope.endswith((".", "-"))
)


def producer_of(attributes: Mapping[str, Any], scope: Any = None) -> str:
    """Key in ``PRODUCERS`` of whoever made a span: by scope name, else by attribute family."""
    name = getattr(scope, "name", None) or ""
    if name:
        key = _BY_SCOPE.get(name) or _BY_SCOPE.get(name.rsplit(".", 1)[0])
        if key is not None:
            return key
        for prefix, key in _SCOPE_PREFIXES:
            if name.startswith(prefix):
                return key
    return foreign.family_of(attributes) or "genai-semconv"


def normalize(attributes: Mapping[str, Any], scope: Any = None) -> Mapping[str, Any] | None:
    """The span's attributes under our names, or ``None`` when the span is not a provider call."""
    if _is_ours(scope):  # the hot path: our own instrumentors' spans are written in our names
        return attributes if attr.OPERATION_NAME in attributes else None
    key = producer_of(attributes, scope)
    producer = PRODUCERS[key]
    out = producer.translate(attributes)
    if out is None or out.get(attr.OPERATION_NAME) in NOT_CALLS:
        return None
    convention = _convention(producer, scope)
    if _is_anthropic(out) or convention == BY_NUMBERS:
        out = _include_cache_in_input(out, convention)
    return out


def _is_ours(scope: Any) -> bool:
    return getattr(scope, "name", None) in _OUR_SCOPES


def _convention(producer: Producer, scope: Any) -> str:
    if producer.changed_at is not None:
        version = _version(getattr(scope, "version", None))
        if version is None:
            return BY_NUMBERS
        first, convention = producer.changed_at
        if version >= first:
            return convention
    return producer.anthropic_input


def _version(text: Any) -> tuple[int, ...] | None:
    parts = []
    for part in str(text or "").split("."):
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def _is_anthropic(out: Mapping[str, Any]) -> bool:
    provider = out.get(attr.PROVIDER_NAME)
    return isinstance(provider, str) and "anthropic" in provider.lower()


def _include_cache_in_input(out: Mapping[str, Any], convention: str) -> Mapping[str, Any]:
    """Make input inclusive of cache when the producer's convention, or the numbers, say it is not."""
    input_tokens = out.get(attr.USAGE_INPUT_TOKENS)
    if not isinstance(input_tokens, int):
        return out
    read = out.get(attr.USAGE_CACHE_READ_INPUT_TOKENS)
    write = out.get(attr.USAGE_CACHE_CREATION_INPUT_TOKENS)
    cache = (read if isinstance(read, int) else 0) + (write if isinstance(write, int) else 0)
    if not cache:
        return out
    if convention == EXCLUDES_CACHE or input_tokens < cache:
        return {**out, attr.USAGE_INPUT_TOKENS: input_tokens + cache}
    return out
