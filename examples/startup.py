"""One call at app startup: every OpenAI and Anthropic call becomes a span and a row of ``llm_traces``.

    python examples/startup.py

``otel_llm.setup()`` installs a tracer provider (or uses the one the app has), the exporter that
writes rows (``OTEL_LLM_CLICKHOUSE_URL``; by default the embedded store in ``./.otel-llm``) and
every otel-llm instrumentor whose SDK is installed. ``llm_context`` says whom the calls belong
to. Without API keys the calls go to local stand-ins (``standins.py``).
"""

import os
import uuid

import anthropic
import openai

import otel_llm
from otel_llm import llm_context

from standins import api_endpoints, print_rows

provider = otel_llm.setup(service_name="support-bot")  # the one line an app adds


def handle_ticket(run_id: str) -> None:
    """App code: nothing here knows about telemetry but the context it sets."""
    chat, claude = openai.OpenAI(), anthropic.Anthropic()
    question = [{"role": "user", "content": "Where is order 1234?"}]
    with llm_context(customer_id="acme", plan_type="pro", agent_id="support-bot", run_id=run_id):
        with llm_context(step_id="triage"):
            chat.chat.completions.create(model="gpt-4o-mini", messages=question)
        with llm_context(step_id="answer"):
            stream = claude.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=question, stream=True)
            print("answer:", "".join(e.delta.text for e in stream if e.type == "content_block_delta"))
        chat.embeddings.create(model="text-embedding-3-small", input=["Where is order 1234?"])


if __name__ == "__main__":
    run_id = f"example-{uuid.uuid4().hex[:8]}"
    with api_endpoints() as endpoints:
        os.environ.update(endpoints)
        handle_ticket(run_id)
    provider.shutdown()  # flushes the exporter: every row is stored when it returns
    print_rows(run_id)
