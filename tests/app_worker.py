"""An app's worker process, for tests and ``benchmarks/bench_memory.py``: calls the OpenAI SDK
against the loopback stand-in, with or without ``otel_llm.setup()``, in two halves.

    python app_worker.py BASE_URL CALLS INSTRUMENT(0|1)

Prints ``half`` after the first half of the calls and waits for a line on stdin; then makes the
rest, flushes, prints one JSON line (its pid, private memory, whether it maps chDB) and waits
for a line on stdin again before exiting, so that the caller can look at it alive.
"""

from __future__ import annotations

import json
import sys


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """USS (private clean + dirty), PSS and RSS in KiB, from /proc/PID/smaps_rollup."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1])
    return {
        "uss": fields["Private_Clean"] + fields["Private_Dirty"],
        "pss": fields["Pss"],
        "rss": fields["Rss"],
    }


def maps_chdb(pid: int | str = "self") -> bool:
    with open(f"/proc/{pid}/maps") as maps:
        return any("/chdb/_chdb" in line for line in maps)


def main() -> None:
    base_url, calls, instrument = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    if instrument:
        import otel_llm

        otel_llm.setup(service_name="app-worker")
    import openai

    client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)

    def call(i: int) -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"hello {i}"}])

    for i in range(calls // 2):
        call(i)
    print("half", flush=True)
    sys.stdin.readline()
    for i in range(calls // 2, calls):
        call(i)
    if instrument:
        from opentelemetry import trace

        trace.get_tracer_provider().force_flush()
    report = {"pid": __import__("os").getpid(), "chdb": maps_chdb(), **memory_kib()}
    report["modules"] = sorted(m for m in ("anthropic", "pyarrow", "numpy", "chdb", "clickhouse_connect") if m in sys.modules)
    print(json.dumps(report), flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main()
