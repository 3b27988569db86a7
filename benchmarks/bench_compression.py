"""Payload compression ratio in ``llm_traces`` on realistic chat traffic (issue 7: target >= 10x).

    python benchmarks/bench_compression.py [--calls 3000] [--concurrent 12] [--seed 7] [--variants]

The corpus imitates what agent traffic sends, because what makes chat payloads compressible is
their repetition structure, not their words:

- 8 agents, half calling OpenAI Chat Completions, half Anthropic Messages (each in its own
  request/response shape: ``messages``/``tools``/``tool_calls`` with JSON-string arguments, or
  ``system`` blocks/``tools`` with ``input_schema``/``tool_use``/``tool_result``).  Each agent has
  a fixed system prompt (1-6 KB) and 3-9 tool definitions with JSON schemas, resent on every call.
- Conversations of 1-30 calls: every request carries the whole history so far (the user's turns,
  the assistant's replies and tool calls, the tool results), so requests grow from a few KB to
  ~100 KB (capped there; longer conversations end).  Responses are one assistant turn: text, or
  a tool call with JSON arguments.
- Text is real English prose (docstrings of the standard library) and tool results are real
  code (its source) or generated records (ids, prices, timestamps, statuses) as JSON; user
  messages are sampled sentences, so no two are alike.
- Several conversations (``--concurrent``, default 12) of different agents run at once: their
  calls are interleaved in time over three hours, as a busy service writes them, rather than one
  conversation after another.  The more conversations interleave, the farther apart in the table
  the calls that repeat each other's history: a larger ``--concurrent`` is the harder case.

What it cannot know: how repetitive a given deployment's real users are; how often agents
change prompts; how large their tool results are.  The ratio printed is for this mix.

Rows go through the real pipeline (SDK spans -> LLMTraceExporter -> storage writer -> embedded
chDB), then ``OPTIMIZE TABLE llm_traces FINAL``, and the ratios are ClickHouse's own figures
from ``system.columns`` (``data_uncompressed_bytes / data_compressed_bytes``) and ``system.parts``.

``--variants`` copies the table into variants differing in one setting (ZSTD level, compression
block size) and prints their payload ratios, to see what would move the figure.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import random
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from otel_llm import LLMTraceExporter
from otel_llm import attributes as attr
from otel_llm.storage import open_store

MAX_REQUEST_BYTES = 100_000
PAYLOAD_COLUMNS = ("request_json", "response_json", "llm_config_json")
# Stdlib modules whose docstrings and source stand in for prose and for code in tool results.
_TEXT_MODULES = (
    "argparse", "asyncio.events", "collections", "csv", "dataclasses", "datetime", "decimal",
    "email.message", "functools", "http.client", "http.cookiejar", "json.decoder", "logging",
    "pathlib", "shutil", "sqlite3", "statistics", "string", "subprocess", "tarfile", "textwrap",
    "threading", "unittest.case", "urllib.parse", "uuid", "zipfile",
)  # fmt: skip


_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _json(value: object) -> str:
    # As otel_llm.payloads writes payloads: compact, UTF-8 kept as is.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Corpus:
    """Sentences and code blocks from the standard library, sampled with one seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        import importlib

        self.rng = rng
        self.sentences: list[str] = []
        self.code: list[str] = []
        for name in _TEXT_MODULES:
            module = importlib.import_module(name)
            source = inspect.getsource(module)
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)):
                    doc = ast.get_docstring(node)
                    if doc:
                        self.sentences += [s.strip() + "." for s in " ".join(doc.split()).split(". ") if len(s) > 30]
                if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno >= 5:
                    self.code.append(ast.get_source_segment(source, node) or "")
        self.words = sorted({w.strip(".,:;()`'\"").lower() for s in self.sentences for w in s.split()} - {""})

    def prose(self, low: int, high: int) -> str:
        return " ".join(self.rng.choice(self.sentences) for _ in range(self.rng.randint(low, high)))

    def snippet(self, max_chars: int) -> str:
        return self.rng.choice(self.code)[:max_chars]

    def word(self) -> str:
        return self.rng.choice(self.words)

    def ident(self, prefix: str, size: int = 24) -> str:
        return prefix + "".join(self.rng.choice(_ID_CHARS) for _ in range(size))


class Agent:
    def __init__(self, index: int, corpus: Corpus) -> None:
        rng = corpus.rng
        self.corpus = corpus
        self.provider = "openai" if index % 2 == 0 else "anthropic"
        self.model = rng.choice(["gpt-4o", "gpt-4o-mini", "gpt-4.1"] if self.provider == "openai"
                                else ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"])
        self.id = f"agent-{index}"
        self.system = f"You are {self.id}, an assistant for the {corpus.word()} team. " + corpus.prose(8, 50)
        self.tools = [self._tool() for _ in range(rng.randint(3, 9))]
        self.temperature = rng.choice([0.0, 0.2, 0.7, 1.0])
        self.max_tokens = rng.choice([1024, 2048, 4096, 8192])

    def _tool(self) -> dict:
        c = self.corpus
        properties = {
            c.word() + "_" + c.word(): {
                "type": c.rng.choice(["string", "integer", "number", "boolean"]),
                "description": c.prose(1, 1)[:160],
            }
            for _ in range(c.rng.randint(1, 6))
        }
        return {
            "name": f"{c.word()}_{c.word()}",
            "description": c.prose(1, 3),
            "parameters": {"type": "object", "properties": properties, "required": list(properties)[:2]},
        }

    def tool_arguments(self, tool: dict) -> dict:
        c = self.corpus
        types = {"string": lambda: " ".join(c.word() for _ in range(c.rng.randint(1, 5))),
                 "integer": lambda: c.rng.randint(0, 10_000), "number": lambda: round(c.rng.uniform(0, 1000), 2),
                 "boolean": lambda: c.rng.random() < 0.5}  # fmt: skip
        return {name: types[spec["type"]]() for name, spec in tool["parameters"]["properties"].items()}

    def tool_result(self) -> str:
        c = self.corpus
        kind = c.rng.random()
        if kind < 0.35:
            return c.snippet(c.rng.randint(400, 10_000))
        if kind < 0.7:
            return _json([
                {"id": c.ident("ord_", 12), "status": c.rng.choice(["open", "shipped", "refunded", "pending"]),
                 "amount": round(c.rng.uniform(1, 900), 2), "currency": "USD", "sku": c.ident("SKU-", 8),
                 "created_at": f"2026-{c.rng.randint(1, 11):02d}-{c.rng.randint(1, 28):02d}T"
                               f"{c.rng.randint(0, 23):02d}:{c.rng.randint(0, 59):02d}:00Z",
                 "note": c.prose(0, 1)[:120]}
                for _ in range(c.rng.randint(1, 25))
            ])  # fmt: skip
        return c.prose(2, 20)


class Conversation:
    """One multi-turn conversation; ``next_call`` returns (request, response, config) or None."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.turns: list[dict] = []  # provider-neutral history
        self.calls_left = agent.corpus.rng.randint(1, 30)
        self.pending_call: str | None = None  # the id of a tool call awaiting its result

    def next_call(self) -> tuple[str, str, str, dict] | None:
        a, c = self.agent, self.agent.corpus
        if self.calls_left <= 0:
            return None
        self.calls_left -= 1
        if self.pending_call is not None:
            self.turns.append({"role": "tool", "id": self.pending_call, "content": a.tool_result()})
            self.pending_call = None
        else:
            self.turns.append({"role": "user", "content": c.prose(1, 6)})
        use_tool = self.calls_left > 0 and c.rng.random() < 0.55
        if use_tool:
            tool = c.rng.choice(a.tools)
            call_id = c.ident("call_" if a.provider == "openai" else "toolu_")
            reply = {"role": "assistant", "content": c.prose(0, 1), "tool": tool["name"],
                     "arguments": a.tool_arguments(tool), "id": call_id}  # fmt: skip
            self.pending_call = call_id
        else:
            reply = {"role": "assistant", "content": c.prose(1, 10)}
        shape = _openai if a.provider == "openai" else _anthropic
        request, response, config = shape(a, self.turns, reply)
        self.turns.append(reply)
        if len(request) > MAX_REQUEST_BYTES:
            self.calls_left = 0  # the context is full: this agent would start a new conversation
        prompt_tokens = len(request) // 4
        usage = {"input": prompt_tokens, "output": len(response) // 4,
                 "cached": prompt_tokens * 3 // 4 if len(self.turns) > 2 else 0}  # fmt: skip
        return request, response, config, usage


def _openai(agent: Agent, turns: list[dict], reply: dict) -> tuple[str, str, str]:
    c = agent.corpus
    messages: list[dict] = [{"role": "system", "content": agent.system}]
    for turn in turns:
        if turn["role"] == "tool":
            messages.append({"role": "tool", "tool_call_id": turn["id"], "content": turn["content"]})
        elif turn["role"] == "assistant" and "tool" in turn:
            messages.append({"role": "assistant", "content": turn["content"] or None, "tool_calls": [
                {"id": turn["id"], "type": "function",
                 "function": {"name": turn["tool"], "arguments": _json(turn["arguments"])}}]})  # fmt: skip
        else:
            messages.append({"role": turn["role"], "content": turn["content"]})
    config = {"model": agent.model, "temperature": agent.temperature, "max_tokens": agent.max_tokens,
              "tool_choice": "auto", "stream": False}  # fmt: skip
    tools = [{"type": "function", "function": tool} for tool in agent.tools]
    request = {"messages": messages, "tools": tools, **config}
    message: dict = {"role": "assistant", "content": reply["content"] or None, "refusal": None}
    if "tool" in reply:
        function = {"name": reply["tool"], "arguments": _json(reply["arguments"])}
        message["tool_calls"] = [{"id": reply["id"], "type": "function", "function": function}]
    response = {
        "id": c.ident("chatcmpl-", 29), "object": "chat.completion", "created": 1_790_000_000 + c.rng.randint(0, 10**6),
        "model": agent.model + "-2024-08-06",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if "tool" in reply else "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}},
        "system_fingerprint": c.ident("fp_", 10),
    }  # fmt: skip
    return _json(request), _json(response), _json(config)


def _anthropic(agent: Agent, turns: list[dict], reply: dict) -> tuple[str, str, str]:
    c = agent.corpus

    def blocks(turn: dict) -> list[dict]:
        if turn["role"] == "tool":
            return [{"type": "tool_result", "tool_use_id": turn["id"], "content": turn["content"]}]
        out = [{"type": "text", "text": turn["content"]}] if turn["content"] else []
        if "tool" in turn:
            out.append({"type": "tool_use", "id": turn["id"], "name": turn["tool"], "input": turn["arguments"]})
        return out

    messages = [{"role": "assistant" if t["role"] == "assistant" else "user", "content": blocks(t)} for t in turns]
    config = {"model": agent.model, "max_tokens": agent.max_tokens, "temperature": agent.temperature}
    tools = [{"name": t["name"], "description": t["description"], "input_schema": t["parameters"]} for t in agent.tools]
    system = [{"type": "text", "text": agent.system, "cache_control": {"type": "ephemeral"}}]
    request = {**config, "system": system, "tools": tools, "messages": messages}
    response = {
        "id": c.ident("msg_01", 22), "type": "message", "role": "assistant", "model": agent.model,
        "content": blocks(reply), "stop_reason": "tool_use" if "tool" in reply else "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0,
                  "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
    }  # fmt: skip
    return _json(request), _json(response), _json(config)


def generate_calls(count: int, concurrent: int, seed: int) -> list[tuple[Agent, str, str, str, dict]]:
    """``count`` calls, ``concurrent`` conversations of random agents interleaved as they happen."""
    rng = random.Random(seed)
    corpus = Corpus(rng)
    agents = [Agent(i, corpus) for i in range(8)]
    live = [Conversation(rng.choice(agents)) for _ in range(concurrent)]
    calls = []
    while len(calls) < count:
        slot = rng.randrange(len(live))
        call = live[slot].next_call()
        if call is None:
            live[slot] = Conversation(rng.choice(agents))
            continue
        calls.append((live[slot].agent, *call))
    return calls


def export(calls: list, url: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "agents"}))
    tracer = provider.get_tracer("otel_llm.bench")
    exporter = LLMTraceExporter(url, forward_to=None)
    # Spread over three hours so rows fall in several of the sort key's hour buckets.
    start = time.time_ns() - 3 * 3600 * 10**9
    step = 3 * 3600 * 10**9 // len(calls)
    batch = []
    for i, (agent, request, response, config, usage) in enumerate(calls):
        began = start + i * step
        span = tracer.start_span(
            f"chat {agent.model}",
            kind=SpanKind.CLIENT,
            start_time=began,
            attributes={
                attr.OPERATION_NAME: "chat",
                attr.PROVIDER_NAME: agent.provider,
                attr.REQUEST_MODEL: agent.model,
                attr.RESPONSE_MODEL: agent.model,
                attr.AGENT_ID: agent.id,
                attr.USAGE_INPUT_TOKENS: usage["input"],
                attr.USAGE_OUTPUT_TOKENS: usage["output"],
                attr.USAGE_CACHE_READ_INPUT_TOKENS: usage["cached"],
                attr.REQUEST_JSON: request,
                attr.RESPONSE_JSON: response,
                attr.LLM_CONFIG_JSON: config,
            },
        )
        span.end(end_time=began + 2 * 10**9)
        batch.append(span._readable_span())
        if len(batch) == 512:
            exporter.export(batch)
            batch = []
    if batch:
        exporter.export(batch)
    assert exporter.force_flush(300_000), "rows did not reach the store"
    exporter.shutdown()


def column_ratios(store, table: str) -> list[tuple[str, int, int]]:
    # system.columns has sizes per column only for Wide parts, and llm_traces keeps parts under
    # 256 MB Compact (migration 2): the merge below would write a Compact part whose columns all
    # read 0 bytes. Each column is compressed on its own either way, with the same codec.
    store.command(f"ALTER TABLE {table} MODIFY SETTING min_bytes_for_wide_part = 0")
    store.command(f"OPTIMIZE TABLE {table} FINAL")
    _, rows = store.query(
        "SELECT name, data_uncompressed_bytes, data_compressed_bytes FROM system.columns "
        "WHERE database = currentDatabase() AND table = {table:String} ORDER BY name",
        {"table": table},
    )
    return rows


def table_ratio(store, table: str) -> tuple[int, int, int]:
    _, [(raw, packed, on_disk)] = store.query(
        "SELECT sum(data_uncompressed_bytes), sum(data_compressed_bytes), sum(bytes_on_disk) FROM system.parts "
        "WHERE database = currentDatabase() AND table = {table:String} AND active",
        {"table": table},
    )
    return raw, packed, on_disk


def _ratio(raw: int, packed: int) -> str:
    return f"{raw / packed:6.1f}x" if packed else "   n/a"


# (name, column codec for the three payload columns, extra table settings)
VARIANTS = (
    ("ZSTD(3) (the schema's)", "ZSTD(3)", ""),
    ("ZSTD(1)", "ZSTD(1)", ""),
    ("ZSTD(9)", "ZSTD(9)", ""),
    ("ZSTD(19)", "ZSTD(19)", ""),
    ("ZSTD(3), 4 MiB blocks", "ZSTD(3)", "min_compress_block_size = 4194304, max_compress_block_size = 4194304"),
    ("ZSTD(9), 8 MiB blocks", "ZSTD(9)", "min_compress_block_size = 8388608, max_compress_block_size = 8388608"),
)


def variants(store) -> None:
    print("\nvariants (same rows copied; payload columns' ratios, and the engine's CPU for the copy + merge):")
    print(f"  {'variant':28s} {'request':>8s} {'response':>8s} {'config':>8s} {'payloads':>9s} {'CPU s':>6s}")
    for name, codec, settings in VARIANTS:
        table = "variant_" + "".join(ch for ch in name if ch.isalnum())
        store.command(f"DROP TABLE IF EXISTS {table}")
        store.command(f"CREATE TABLE {table} AS llm_traces")
        for column in PAYLOAD_COLUMNS:
            store.command(f"ALTER TABLE {table} MODIFY COLUMN {column} String CODEC({codec})")
        if settings:
            store.command(f"ALTER TABLE {table} MODIFY SETTING {settings}")
        cpu_started = time.process_time()  # chDB runs in this process: its threads count
        store.command(f"INSERT INTO {table} SELECT * FROM llm_traces")
        found = {n: (raw, packed) for n, raw, packed in column_ratios(store, table)}
        cpu_s = time.process_time() - cpu_started
        raw = sum(found[c][0] for c in PAYLOAD_COLUMNS)
        packed = sum(found[c][1] for c in PAYLOAD_COLUMNS)
        cells = " ".join(f"{_ratio(*found[c]):>8s}" for c in PAYLOAD_COLUMNS)
        print(f"  {name:28s} {cells} {_ratio(raw, packed):>9s} {cpu_s:6.2f}")
        store.command(f"DROP TABLE {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrent", type=int, default=12, help="conversations in flight at once")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--variants", action="store_true", help="also measure other codecs / block sizes")
    args = parser.parse_args()

    calls = generate_calls(args.calls, args.concurrent, args.seed)
    sizes = sorted(len(call[1].encode()) for call in calls)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"chdb://{Path(tmp) / 'db'}"
        export(calls, url)
        store = open_store(url)
        try:
            columns = column_ratios(store, "llm_traces")
            raw, packed, on_disk = table_ratio(store, "llm_traces")
            _, [(rows,)] = store.query("SELECT count() FROM llm_traces")
            print(f"calls: {rows} rows, {len({id(call[0]) for call in calls})} agents, {args.concurrent} "
                  f"conversations at a time; request_json bytes: "
                  f"median {sizes[len(sizes) // 2]:,}, p90 {sizes[len(sizes) * 9 // 10]:,}, max {sizes[-1]:,}")
            print(f"  {'column':20s} {'uncompressed':>14s} {'compressed':>12s} {'ratio':>7s}")
            payload_raw = payload_packed = 0
            for name, column_raw, column_packed in columns:
                if name in PAYLOAD_COLUMNS:
                    payload_raw, payload_packed = payload_raw + column_raw, payload_packed + column_packed
                    print(f"  {name:20s} {column_raw:>14,} {column_packed:>12,} {_ratio(column_raw, column_packed)}")
            together = _ratio(payload_raw, payload_packed)
            print(f"  {'payloads together':20s} {payload_raw:>14,} {payload_packed:>12,} {together}")
            print(f"  {'whole table':20s} {raw:>14,} {packed:>12,} {_ratio(raw, packed)}  ({on_disk:,} bytes on disk)")
            met = payload_packed > 0 and payload_raw >= 10 * payload_packed
            print(f"  target: >= 10x on the payloads -> {'met' if met else 'NOT met'}")
            if args.variants:
                variants(store)
        finally:
            store.close()


if __name__ == "__main__":
    main()
