"""Who serves a base URL: the ``gen_ai.provider.name`` of a call, and the price data's name for it.

A base URL is matched, in order, against:

1. the user's declarations: ``OTEL_LLM_PROVIDERS="host[:port]=provider,..."`` (or
   :func:`declare_provider`), for proxies and gateways (LiteLLM, a company gateway) that forward to
   a provider, and for a stand-in answering as one;
2. the API URL patterns of ``genai-prices`` (OpenAI, Groq, DeepSeek, OpenRouter, Azure, Bedrock...);
3. a loopback or private host (vLLM, Ollama, LM Studio): ``self_hosted``, unpriced unless an
   override prices it;
4. anything else: the host itself, so a host we do not know is never called ``openai``.

Names are the semantic conventions' well-known values where they exist (``azure.ai.openai``,
``aws.bedrock``, ``gcp.gemini``, ``mistral_ai``, ``x_ai``...), else ``genai-prices``' provider id
(``openrouter``, ``together``, ``fireworks``, ``cerebras``, ``moonshotai``...).
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from functools import lru_cache
from urllib.parse import urlsplit

PROVIDERS_ENV = "OTEL_LLM_PROVIDERS"
SELF_HOSTED = "self_hosted"

# genai-prices provider id -> gen_ai.provider.name, where the conventions name it differently.
_SEMCONV_NAMES = {
    "azure": "azure.ai.openai",
    "aws": "aws.bedrock",
    "google": "gcp.gemini",
    "mistral": "mistral_ai",
    "x-ai": "x_ai",
}
# gen_ai.provider.name -> genai-prices provider id, for pricing (names not listed map to themselves).
_PRICE_DATA_IDS = {
    **{name: data_id for data_id, name in _SEMCONV_NAMES.items()},
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "azure.ai.inference": "azure",
}
_SDK_HOSTS = {"api.openai.com": "openai", "api.anthropic.com": "anthropic"}
_VERTEX_HOST = re.compile(r"aiplatform\.googleapis\.com$")

_lock = threading.Lock()
_declared: dict[str, str] = {}  # "host" or "host:port" -> provider, from declare_provider
_declarations_version = 0  # bumped by each declare_provider


def declare_provider(base_url_or_host: str, provider: str) -> None:
    """Name the provider that serves ``base_url_or_host`` (a URL, ``host`` or ``host:port``).

    What ``OTEL_LLM_PROVIDERS`` does, from code: calls to that server are recorded as ``provider``
    and priced with its prices.
    """
    global _declarations_version
    with _lock:
        _declared[_key(base_url_or_host)] = provider.strip().lower()
        _declarations_version += 1
    _resolve.cache_clear()


def declarations_version() -> int:
    """Changes with every :func:`declare_provider`: providers worked out before may be stale."""
    return _declarations_version


def price_data_id(provider: str | None) -> str | None:
    """The ``genai-prices`` provider id of a ``gen_ai.provider.name``."""
    if not provider:
        return None
    return _PRICE_DATA_IDS.get(provider, provider)


def is_host(provider: str | None) -> bool:
    """Whether ``provider`` is the host name given to a server we do not know (see
    :func:`provider_of_url`): the price data's fuzzy provider matching must not price it as the
    provider its name happens to contain ("openai-proxy.example.com")."""
    return bool(provider) and "." in provider and provider not in _PRICE_DATA_IDS


def semconv_name(data_id: str) -> str:
    """The ``gen_ai.provider.name`` of a ``genai-prices`` provider id."""
    return _SEMCONV_NAMES.get(data_id, data_id)


def provider_of_url(base_url: str) -> str | None:
    """``gen_ai.provider.name`` of whoever serves ``base_url``; None without a host."""
    return _resolve(base_url, os.environ.get(PROVIDERS_ENV, ""))


@lru_cache(maxsize=1024)
def _resolve(base_url: str, declarations_env: str) -> str | None:
    parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
    host = (parts.hostname or "").lower()
    if not host:
        return None
    declared = _declarations(declarations_env)
    port = parts.port
    for key in (f"{host}:{port}" if port else None, host):
        if key and key in declared:
            return declared[key]
    if _VERTEX_HOST.search(host):
        return "gcp.vertex_ai"
    data_id = _matching_price_provider(f"{parts.scheme or 'https'}://{parts.netloc.lower()}{parts.path}")
    if data_id is not None:
        return semconv_name(data_id)
    if _is_local(host):
        return SELF_HOSTED
    return host


def _matching_price_provider(url: str) -> str | None:
    try:
        from genai_prices.data_snapshot import get_snapshot
    except ImportError:  # no price data on this Python: the two SDKs' own hosts, the rest below
        return _SDK_HOSTS.get(urlsplit(url).hostname or "")
    for provider in get_snapshot().providers:
        if re.match(provider.api_pattern, url):
            return provider.id
    return None


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".lan")) or "." not in host:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def _key(base_url_or_host: str) -> str:
    text = base_url_or_host.strip().lower()
    parts = urlsplit(text if "//" in text else f"//{text}")
    host = parts.hostname or text
    return f"{host}:{parts.port}" if parts.port else host


def _declarations(raw: str) -> dict[str, str]:
    """Declarations from code, over those of ``OTEL_LLM_PROVIDERS`` (its value is ``raw``)."""
    parsed = {}
    for item in raw.split(","):
        where, sep, provider = item.rpartition("=")
        if sep and where.strip() and provider.strip():
            parsed[_key(where)] = provider.strip().lower()
    with _lock:
        return {**parsed, **_declared}
