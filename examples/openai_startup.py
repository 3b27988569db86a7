"""Instrument the OpenAI SDK at app startup and print the spans.

Runs against the local OpenAI stand-in (no API key, no network): a plain chat call, a stream,
a Responses call and embeddings, each printed as one span by ``ConsoleSpanExporter``.

    python examples/openai_startup.py
"""

from openai import OpenAI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from otel_llm import OpenAIInstrumentor, llm_context
from otel_llm.standin.openai import openai_standin

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
OpenAIInstrumentor().instrument(tracer_provider=provider)

with openai_standin() as standin, llm_context(customer_id="acme", agent_id="example-agent"):
    client = OpenAI(base_url=standin.base_url + "/v1", api_key="sk-standin")
    messages = [{"role": "user", "content": "Say hello [cached]"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    print("streamed:", "".join(chunk.choices[0].delta.content or "" for chunk in stream))
    client.responses.create(model="gpt-4.1-mini", input="Say hello [reasoning]")
    client.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])

provider.shutdown()
