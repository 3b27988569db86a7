"""A stand-in for the OpenAI API: Chat Completions, Responses and Embeddings, JSON and SSE.

Scenarios are chosen by tags in the prompt's text (last user message, or the ``input``), so a
test reads like what it checks::

    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[tool_call] weather?"}])

Tags (combinable):

- ``[tool_call]``        the assistant calls ``get_weather`` (finish reason ``tool_calls``)
- ``[length]``           output cut by the token limit (Responses: ``incomplete`` / ``max_output_tokens``)
- ``[content_filter]``   output filtered (Responses: ``incomplete`` / ``content_filter``)
- ``[failed]``           Responses only: the stream ends with ``response.failed``
- ``[cached]``           2048 prompt tokens, 1536 of them cache reads
- ``[reasoning]``        100 reasoning tokens inside the output
- ``[error:429]``        HTTP error with OpenAI's error body (any status)
- ``[slow]``             50 ms before the response / between stream events
- ``[break]``            the stream's connection drops after three events
- ``[midstream_error]``  an error event after three events
- ``[odd_shape]``        a well-formed HTTP response whose ``choices``/``output`` is not a list
- ``[azure_filter]``     chat streams carry Azure OpenAI's content-filter chunks (no id, no delta)

Structured-output requests (``response_format`` / ``text.format`` of JSON type) get a JSON answer
``{"answer": "..."}``.  ``n`` > 1 yields that many choices.  Everything is labelled as stand-in
content (ids ``*-standin-*``, ``system_fingerprint`` ``otel-llm-standin``).
"""

from __future__ import annotations

import time

from otel_llm.standin.openai.chat import chat
from otel_llm.standin.openai.embeddings import embeddings
from otel_llm.standin.openai.responses import responses
from otel_llm.standin.openai.scenarios import SLOW_S, error_response, tags_of
from otel_llm.standin.server import JSONResponse, Request, SSEResponse, StandinServer


def openai_standin(port: int = 0) -> StandinServer:
    """A not-yet-started server answering like ``https://api.openai.com`` under ``/v1``."""
    return StandinServer(handle, port, provider="openai")


def handle(request: Request) -> JSONResponse | SSEResponse:
    body = request.body if isinstance(request.body, dict) else {}
    path = request.path.split("?", 1)[0]
    tags = tags_of(body)
    if "slow" in tags and not body.get("stream"):
        time.sleep(SLOW_S)
    status = next((int(tag.split(":")[1]) for tag in tags if tag.startswith("error:")), None)
    if status is not None:
        return error_response(status)
    if path.endswith("/chat/completions"):
        return chat(body, tags)
    if path.endswith("/responses"):
        return responses(body, tags)
    if path.endswith("/embeddings"):
        return embeddings(body)
    return JSONResponse({"error": {"message": f"stand-in has no route {path}", "type": "invalid_request_error"}}, 404)


# --- request reading --------------------------------------------------------------------------
