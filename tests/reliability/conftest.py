"""Shared pieces of the reliability suite: stand-in servers, outcome comparison, span lookups."""

from __future__ import annotations

import asyncio
import json
import ssl
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import anthropic
import openai
import pytest

from otel_llm import AnthropicInstrumentor, OpenAIInstrumentor
from otel_llm.standin.anthropic import anthropic_standin
from otel_llm.standin.openai import openai_standin
from otel_llm.standin.server import JSONResponse, Request, SSEResponse, StandinServer

OPENAI_KEY = "sk-proj-RELIABILITYsecret0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-api03-RELIABILITYsecret0123456789abcdef"


@pytest.fixture(scope="module")
def openai_server() -> Iterator[StandinServer]:
    with openai_standin() as server:
        yield server


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[StandinServer]:
    with anthropic_standin() as server:
        yield server


class Scripted:
    """A stand-in answering every request with ``respond(request)``; swap ``respond`` per case."""

    def __init__(self) -> None:
        self.respond: Callable[[Request], JSONResponse | SSEResponse] = lambda request: JSONResponse({})
        self.server = StandinServer(lambda request: self.respond(request))


@pytest.fixture(scope="module")
def scripted() -> Iterator[Scripted]:
    script = Scripted()
    with script.server:
        yield script


# Every SDK client builds an SSL context (~0.1 s) unless given an HTTP client: share one.
_SSL = ssl.create_default_context()


def openai_client(server: StandinServer, *, asynchronous: bool = False) -> Any:
    cls, http = (openai.AsyncOpenAI, openai.DefaultAsyncHttpxClient) if asynchronous else (openai.OpenAI, openai.DefaultHttpxClient)
    return cls(base_url=server.base_url + "/v1", api_key=OPENAI_KEY, max_retries=0, timeout=10, http_client=http(verify=_SSL))


def anthropic_client(server: StandinServer, *, asynchronous: bool = False) -> Any:
    if asynchronous:
        cls, http = anthropic.AsyncAnthropic, anthropic.DefaultAsyncHttpxClient
    else:
        cls, http = anthropic.Anthropic, anthropic.DefaultHttpxClient
    return cls(base_url=server.base_url, api_key=ANTHROPIC_KEY, max_retries=0, timeout=10, http_client=http(verify=_SSL))


@contextmanager
def instrumented(tracer_provider: Any, meter_provider: Any = None) -> Iterator[None]:
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()


def dumped(value: Any) -> Any:
    """What the caller saw, as plain data: models dumped, streams read to the end (chunk by chunk)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(warnings=False)
    if isinstance(value, (openai.Stream, anthropic.Stream)) or hasattr(value, "__next__"):
        return [dumped(chunk) for chunk in value]
    return value


async def adumped(value: Any) -> Any:
    if hasattr(value, "__anext__"):
        return [dumped(chunk) async for chunk in value]
    return dumped(value)


def outcome(call: Callable[[], Any]) -> tuple:
    """("returned", data) or ("raised", exception type, message): what the app observes."""
    try:
        return ("returned", dumped(call()))
    except Exception as error:  # noqa: BLE001 - the comparison is the point
        return ("raised", type(error), str(error))


def aoutcome(call: Callable[[], Any]) -> tuple:
    async def run() -> tuple:
        try:
            return ("returned", await adumped(await call()))
        except Exception as error:  # noqa: BLE001
            return ("raised", type(error), str(error))

    return asyncio.run(run())


def sse(chunks: list[Any], *, event: str | None = None, done: bool = True) -> SSEResponse:
    events = [(event, chunk if isinstance(chunk, str) else json.dumps(chunk)) for chunk in chunks]
    if done:
        events.append((None, "[DONE]"))
    return SSEResponse(events)
