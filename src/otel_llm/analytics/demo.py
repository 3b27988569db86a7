"""``otel-llm demo``: the whole product on a fresh machine, no API keys needed.

Starts local stand-ins for the OpenAI and Anthropic APIs (or, with ``--live``, uses the real ones),
sends a small workload through the REAL ``openai`` and ``anthropic`` SDKs, instrumented by
``otel_llm.setup()`` and exported to the store, then prints ``stats`` and writes the HTML report.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from otel_llm import llm_context
from otel_llm.analytics import commands, queries, render, stats
from otel_llm.analytics.stats import run_query
from otel_llm.analytics.window import Window
from otel_llm.storage import open_store, parse_url

# A shared prefix long enough (>1024 tokens) for the providers' prompt caches: the second call
# that repeats it is the cache hit. The stand-ins report a hit when asked by the scenario tags.
_POLICY = "Support policy: be brief, be kind, cite the order number, never promise refunds. " * 90


@dataclass(frozen=True)
class Step:
    label: str
    context: dict[str, Any]
    call: Callable[[], Any]
    expect_error: bool = False


def _say(text: str) -> None:
    print(text, flush=True)


def run(url: str | None, html: Path, live: bool) -> int:
    missing = [sdk for sdk in ("openai", "anthropic") if importlib.util.find_spec(sdk) is None]
    if missing:
        print(
            f"otel-llm: the demo calls both SDKs, and {' and '.join(missing)} is not installed: "
            "pip install 'otel-llm[openai,anthropic]'",
            file=sys.stderr,
        )
        return 2
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    with ExitStack() as stack:
        clients = _live_clients() if live else _standin_clients(stack)
        if clients is None:
            return 2
        openai_client, anthropic_client = clients
        import otel_llm

        provider = otel_llm.setup(service_name="otel-llm-demo", clickhouse_url=url, forward_to=None)
        steps = _workload(openai_client, anthropic_client, live)
        failures = _run_steps(steps)
        _say("flushing spans to the store ...")
        provider.force_flush()
        # Shutting down hands the embedded store back (the writer owns it while it writes).
        provider.shutdown()
    if failures:
        _say(f"{failures} call(s) failed unexpectedly (see above); the report covers the rest.")
    window = Window(started, datetime.now(timezone.utc) + timedelta(seconds=1))
    store = open_store(url)
    try:
        stored = run_query(store, queries.ROW_COUNT, window.parameters)[0]["rows"]
        _say(f"{stored} rows in llm_traces, {parse_url(url).url}")
        _say("")
        for table in stats.compute_many(store, window, ("model", "customer")).values():
            sys.stdout.write(render.table(table) + "\n")
        latest = run_query(store, queries.LATEST_TRACE_ID, window.parameters)
    except stats.NoData:
        _say(
            "otel-llm: the demo's calls did not reach the store. Check that --url / "
            "OTEL_LLM_CLICKHOUSE_URL is writable, then run `otel-llm demo` again."
        )
        return 1
    finally:
        store.close()
    path = commands.write_report(url, window, html)
    _say(f"HTML report: {path}  (self-contained; open it in any browser, offline)")
    _say(f"Next: `otel-llm stats --since 1h --by agent`, `otel-llm trace {latest[0]['trace_id']}`.")
    return 0


def _standin_clients(stack: ExitStack):
    import anthropic
    import openai

    from otel_llm.standin.anthropic import anthropic_standin
    from otel_llm.standin.openai import openai_standin

    servers = {"OpenAI": openai_standin(), "Anthropic": anthropic_standin()}
    for name, server in servers.items():
        server.start()
        stack.callback(server.stop)
        _say(f"{name} API: {server.base_url} — local stand-in, not the real provider")
    # No retries: the demo's deliberate errors should fail once, quickly.
    openai_client = openai.OpenAI(
        base_url=servers["OpenAI"].base_url + "/v1", api_key="standin-key", max_retries=0
    )
    anthropic_client = anthropic.Anthropic(
        base_url=servers["Anthropic"].base_url, api_key="standin-key", max_retries=0
    )
    return openai_client, anthropic_client


def _live_clients():
    import anthropic
    import openai

    missing = [key for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY") if not os.environ.get(key)]
    if missing:
        print(
            f"otel-llm: --live needs {' and '.join(missing)} in the environment; set it, or run "
            "`otel-llm demo` without --live to use the local stand-ins.",
            file=sys.stderr,
        )
        return None
    _say("Calling the REAL OpenAI and Anthropic APIs (this costs a few cents).")
    return openai.OpenAI(max_retries=0), anthropic.Anthropic(max_retries=0)


def _workload(oai, claude, live: bool) -> list[Step]:
    def tag(text: str, standin_tag: str) -> str:
        # Scenario tags steer the stand-ins; the real providers get the plain prompt.
        return text if live else f"{text} {standin_tag}"

    def chat(model: str, text: str, **extra: Any) -> Callable[[], Any]:
        return lambda: oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], max_tokens=60, **extra
        )

    def chat_stream(model: str, text: str) -> Callable[[], Any]:
        def call() -> str:
            chunks = oai.chat.completions.create(
                model=model, messages=[{"role": "user", "content": text}], max_tokens=60, stream=True
            )
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

        return call

    def cached_chat(model: str, hit: bool) -> Callable[[], Any]:
        question = tag("Where is order 1234?", "[cached]") if hit else "Where is order 1234?"
        messages = [{"role": "system", "content": _POLICY}, {"role": "user", "content": question}]
        return lambda: oai.chat.completions.create(model=model, messages=messages, max_tokens=60)

    def claude_message(model: str, text: str, system: Any = None) -> Callable[[], Any]:
        extra = {"system": system} if system else {}
        return lambda: claude.messages.create(
            model=model, max_tokens=60, messages=[{"role": "user", "content": text}], **extra
        )

    def claude_stream(model: str, text: str) -> Callable[[], Any]:
        def call() -> Any:
            with claude.messages.stream(
                model=model, max_tokens=60, messages=[{"role": "user", "content": text}]
            ) as stream:
                return stream.get_final_message()

        return call

    cached_system = [{"type": "text", "text": _POLICY, "cache_control": {"type": "ephemeral"}}]
    acme = {"customer_id": "acme", "plan_type": "enterprise", "agent_id": "support-bot"}
    globex = {"customer_id": "globex", "plan_type": "pro", "agent_id": "research-agent"}
    initech = {"customer_id": "initech", "plan_type": "free", "agent_id": "triage"}
    # An unknown model on the real APIs, a rate limit / overload on the stand-ins.
    bad_model = "otel-llm-demo-no-such-model"
    return [
        Step("openai gpt-4o-mini chat", {**acme, "call_type": "chat"},
             chat("gpt-4o-mini", "Say hello to a customer.")),
        Step("openai gpt-4o chat, streamed", {**acme, "call_type": "chat"},
             chat_stream("gpt-4o", "Summarise our refund policy.")),
        Step("openai gpt-4o-mini, shared prefix (cache warm-up)", {**acme, "call_type": "chat"},
             cached_chat("gpt-4o-mini", hit=False)),
        Step("openai gpt-4o-mini, shared prefix (cache hit)", {**acme, "call_type": "chat"},
             cached_chat("gpt-4o-mini", hit=True)),
        Step("openai o4-mini responses, reasoning", {**globex, "call_type": "plan"},
             lambda: oai.responses.create(model="o4-mini", input=tag("Plan a literature search.", "[reasoning]"))),
        Step("openai error", {**initech, "call_type": "chat"},
             chat(bad_model if live else "gpt-4o-mini", tag("Classify this ticket.", "[error:429]")),
             expect_error=True),
        Step("anthropic claude-haiku-4-5 message", {**initech, "call_type": "chat"},
             claude_message("claude-haiku-4-5", "Classify this ticket: 'my card was charged twice'.")),
        Step("anthropic claude-sonnet-4-5, streamed", {**globex, "call_type": "research"},
             claude_stream("claude-sonnet-4-5", "List three sources on prompt caching.")),
        Step("anthropic claude-sonnet-4-5, cached system prompt", {**globex, "call_type": "research"},
             claude_message("claude-sonnet-4-5", "Where is order 1234?", cached_system)),
        Step("anthropic claude-sonnet-4-5, cached system prompt (hit)", {**globex, "call_type": "research"},
             claude_message("claude-sonnet-4-5", tag("Where is order 1234?", "standin:cached"), cached_system)),
        Step("anthropic error", {**acme, "call_type": "chat"},
             claude_message(bad_model if live else "claude-haiku-4-5", tag("Hello?", "standin:error_529")),
             expect_error=True),
    ]


def _run_steps(steps: list[Step]) -> int:
    failures = 0
    for number, step in enumerate(steps, 1):
        began = time.perf_counter()
        with llm_context(**step.context):
            try:
                step.call()
                outcome = "ok"
            except Exception as exc:  # noqa: BLE001 - the demo reports every SDK error and goes on
                outcome = f"{type(exc).__name__}" + (" (intended)" if step.expect_error else f": {exc}")
                failures += not step.expect_error
        who = f"{step.context['customer_id']}/{step.context['agent_id']}"
        _say(f"[{number:2}/{len(steps)}] {who:22} {step.label:55} {outcome} {time.perf_counter() - began:.2f}s")
    return failures
