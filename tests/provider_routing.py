"""SDK clients that believe they call the real provider while their requests reach a stand-in.

The client is given the provider's real base URL (``https://api.openai.com/v1``), so everything
that depends on it (``gen_ai.provider.name``, pricing, ``server.address``) sees what it would see
in production; its HTTP transport then sends each request, unchanged but for scheme, host and
port, to the stand-in on 127.0.0.1: real HTTP, the provider's wire format.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx2

OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"

# Building an SSL context takes ~0.1 s and every new client builds one: share one instead.
_SSL_CONTEXT = ssl.create_default_context()


def _target(standin: Any) -> httpx2.URL:
    return httpx2.URL(standin.base_url if hasattr(standin, "base_url") else standin)


class RoutedTransport(httpx2.HTTPTransport):
    def __init__(self, standin: Any, **options: Any) -> None:
        super().__init__(verify=_SSL_CONTEXT, **options)
        self._to = _target(standin)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = request.url.copy_with(scheme=self._to.scheme, host=self._to.host, port=self._to.port)
        return super().handle_request(request)


class AsyncRoutedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, standin: Any, **options: Any) -> None:
        super().__init__(verify=_SSL_CONTEXT, **options)
        self._to = _target(standin)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = request.url.copy_with(scheme=self._to.scheme, host=self._to.host, port=self._to.port)
        return await super().handle_async_request(request)


def routed_http_client(sdk: Any, standin: Any) -> Any:
    """``sdk.DefaultHttpxClient`` (openai or anthropic) whose requests go to ``standin``."""
    return sdk.DefaultHttpxClient(transport=RoutedTransport(standin))


def routed_async_http_client(sdk: Any, standin: Any) -> Any:
    return sdk.DefaultAsyncHttpxClient(transport=AsyncRoutedTransport(standin))
