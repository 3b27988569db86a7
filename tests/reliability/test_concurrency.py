"""Many calls at once through the real SDKs: one span per call, each with its own llm_context.

Each call names its customer in its prompt too, so every span can be checked against the call
that made it: a context leaking between concurrent requests would show as a mismatch.
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import anthropic
import httpx2
import openai

from otel_llm import llm_context

from .conftest import anthropic_client, instrumented, openai_client

THREADS = 16
CALLS_PER_THREAD = 20
TASKS = 200
LIMITS = httpx2.Limits(max_connections=16)


def customers_by_span(spans) -> list[tuple[str, str]]:
    """(customer in the span's context, customer named in the span's prompt) for every span."""
    pairs = []
    for span in spans:
        prompt = json.loads(span.attributes["gen_ai.input.messages"])[0]["content"]
        pairs.append((span.attributes.get("otel_llm.billing.customer_id"), prompt.split()[-1]))
    return pairs


def test_threads_share_a_client_and_never_share_context(openai_server, tracer_provider, span_exporter):
    client = openai_client(openai_server)
    start = threading.Barrier(THREADS)

    def worker(thread: int) -> int:
        start.wait()
        done = 0
        for call in range(CALLS_PER_THREAD):
            customer = f"cust-{thread}-{call}"
            with llm_context(customer_id=customer, agent_id=f"agent-{thread}"):
                messages = [{"role": "user", "content": f"hello from {customer}"}]
                if call % 4 == 0:  # some streams, consumed inside the context
                    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
                    done += bool(chunks)
                else:
                    done += bool(client.chat.completions.create(model="gpt-4o-mini", messages=messages).choices)
        return done

    with instrumented(tracer_provider), ThreadPoolExecutor(THREADS) as pool:
        assert sum(pool.map(worker, range(THREADS))) == THREADS * CALLS_PER_THREAD
    spans = span_exporter.get_finished_spans()
    assert len(spans) == THREADS * CALLS_PER_THREAD
    pairs = customers_by_span(spans)
    assert all(context == named for context, named in pairs), [p for p in pairs if p[0] != p[1]][:5]
    assert len({named for _, named in pairs}) == THREADS * CALLS_PER_THREAD
    for span in spans:
        thread = span.attributes["otel_llm.billing.customer_id"].split("-")[1]
        assert span.attributes["gen_ai.agent.id"] == f"agent-{thread}"


def test_asyncio_tasks_never_share_context(openai_server, anthropic_server, tracer_provider, span_exporter, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")

    async def main() -> list:
        # All tasks run at once; their HTTP connections are pooled, since the stand-in's small
        # listen backlog resets a burst of 200 new connections (without otel-llm too).
        oai = openai_client(openai_server, asynchronous=True)
        oai = oai.with_options(http_client=openai.DefaultAsyncHttpxClient(limits=LIMITS))
        ant = anthropic_client(anthropic_server, asynchronous=True)
        ant = ant.with_options(http_client=anthropic.DefaultAsyncHttpxClient(limits=LIMITS))

        async def task(n: int):
            customer = f"cust-{n}"
            messages = [{"role": "user", "content": f"hello from {customer}"}]
            async with llm_context(customer_id=customer):
                await asyncio.sleep(0)  # interleave the tasks inside their contexts
                if n % 3 == 0:
                    return await ant.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=messages)
                if n % 3 == 1:
                    stream = await oai.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
                    return [chunk async for chunk in stream]
                return await oai.chat.completions.create(model="gpt-4o-mini", messages=messages)

        return await asyncio.gather(*(task(n) for n in range(TASKS)))

    with instrumented(tracer_provider):
        results = asyncio.run(main())
    assert len(results) == TASKS and all(results)
    spans = span_exporter.get_finished_spans()
    assert len(spans) == TASKS
    pairs = customers_by_span(spans)
    assert all(context == named for context, named in pairs), [p for p in pairs if p[0] != p[1]][:5]
    assert len({named for _, named in pairs}) == TASKS
