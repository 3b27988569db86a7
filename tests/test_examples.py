"""``examples/`` run as a user runs them, each into a store of its own; the rows they report are checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_llm.storage import open_store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# (service, provider, request model, operation, stream, customer, agent, step)
EXPECTED = {
    "startup.py": [
        ("support-bot", "anthropic", "claude-haiku-4-5", "chat", True, "acme", "support-bot", "answer"),
        ("support-bot", "openai", "gpt-4o-mini", "chat", False, "acme", "support-bot", "triage"),
        ("support-bot", "openai", "text-embedding-3-small", "embeddings", False, "acme", "support-bot", ""),
    ],
    "zero_code/run.py": [
        ("checkout", "anthropic", "claude-haiku-4-5", "chat", False, "acme", "gift-helper", ""),
        ("checkout", "openai", "gpt-4o-mini", "chat", False, "acme", "gift-helper", ""),
    ],
    "collector/run.py": [
        ("search", "anthropic", "claude-haiku-4-5", "chat", False, "initech", "search", ""),
        ("search", "openai", "gpt-4o-mini", "chat", False, "initech", "search", ""),
    ],
}


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_writes_its_rows(example: str, tmp_path: Path) -> None:
    # No keys: the examples use the local stand-ins. A home of its own: the default embedded store.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_"))}
    env["OTEL_LLM_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / example)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    store = open_store(f"chdb://{tmp_path / 'home' / 'chdb'}")
    try:
        _, rows = store.query(
            "SELECT service_name, provider, request_model, operation, is_stream, customer_id, agent_id, step_id, "
            "run_id, prompt_tokens > 0, cost_usd > 0 FROM llm_traces FINAL ORDER BY provider, request_model"
        )
    finally:
        store.close()
    assert [row[:8] for row in rows] == [tuple(expected) for expected in EXPECTED[example]]
    (run_id,) = {row[8] for row in rows}
    assert run_id.startswith("example-") and all(row[9] and row[10] for row in rows)
    # What the example printed is the same rows, as `otel-llm query` shows them.
    assert f"run_id = '{run_id}'" in done.stdout and f"({len(rows)} rows)" in done.stdout
