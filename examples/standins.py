"""What lets the examples run anywhere: local stand-ins for the two APIs, and reading rows back.

Without ``OPENAI_API_KEY`` and ``ANTHROPIC_API_KEY`` in the environment, the examples talk to
otel-llm's stand-ins for the OpenAI and Anthropic APIs on 127.0.0.1 (the wire format of the real
ones, canned answers, no network). With both keys set, they call the real APIs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from otel_llm.standin.anthropic import anthropic_standin
from otel_llm.standin.openai import openai_standin


@contextmanager
def api_endpoints() -> Iterator[dict[str, str]]:
    """Environment variables that point the SDKs at the stand-ins (empty when real keys are set).

    The SDKs read ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` and the keys themselves, so the
    app code stays exactly what it would be against the real APIs. ``OTEL_LLM_PROVIDERS`` says
    which provider each stand-in answers as (a loopback server is otherwise self-hosted, and
    unpriced), as it would for a gateway in front of a provider.
    """
    if os.environ.get("OPENAI_API_KEY") and os.environ.get("ANTHROPIC_API_KEY"):
        yield {}
        return
    with openai_standin() as openai_api, anthropic_standin() as anthropic_api:
        yield {
            "OPENAI_BASE_URL": openai_api.base_url + "/v1",
            "OPENAI_API_KEY": "standin-key",
            "ANTHROPIC_BASE_URL": anthropic_api.base_url,
            "ANTHROPIC_API_KEY": "standin-key",
            "OTEL_LLM_PROVIDERS": f"{openai_api.base_url}=openai,{anthropic_api.base_url}=anthropic",
        }


def print_rows(run_id: str) -> None:
    """The run's rows of ``llm_traces``, as ``otel-llm query`` prints them."""
    sql = (
        "SELECT service_name, provider, request_model, operation, is_stream, prompt_tokens, "
        "completion_tokens, cost_usd, customer_id, agent_id "
        f"FROM llm_traces FINAL WHERE run_id = '{run_id}' ORDER BY timestamp"
    )
    print(f'$ otel-llm query "{sql}"', flush=True)
    subprocess.run([sys.executable, "-m", "otel_llm.cli", "query", sql], check=True)
