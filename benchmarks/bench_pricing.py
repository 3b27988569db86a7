"""Per-call pricing cost: ``otel_llm.pricing.price_call`` (a (provider, model) resolved and compiled
once, integer arithmetic per call) against ``genai_prices.calc_price`` on the same calls.

    python benchmarks/bench_pricing.py [--calls 20000] [--rounds 5]

Scenarios are what an instrumentor prices after each response: a plain chat call, one with cache
reads and both kinds of Anthropic cache writes, a dated snapshot answering for its family (the
response model differs from the request's), a flex-tier call, a model whose price depends on the
time of day (DeepSeek, decided per call), and a model without a price (an unpriced call must be
as cheap). The first call of a model (resolution and compilation) is timed apart. Figures are the
best of ``--rounds`` rounds, in microseconds a call, process CPU time.
"""

from __future__ import annotations

import argparse
import time
import warnings

import genai_prices

from otel_llm.pricing import price_call, reload, usage_counts
from otel_llm.pricing.providers import price_data_id
from otel_llm.usage import Usage

SCENARIOS = [
    ("chat gpt-4o-mini", "openai", "gpt-4o-mini", None, Usage(input_tokens=1_200, output_tokens=300), None),
    ("anthropic cache r/w", "anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5",
     Usage(input_tokens=13_000, cache_read_tokens=10_000, cache_write_tokens=2_000, output_tokens=500,
           details={"cache_write_5m": 1_500, "cache_write_1h": 500}), None),
    ("snapshot of family", "openai", "gpt-4o-2024-08-06", "gpt-4o", Usage(input_tokens=5_000, output_tokens=800,
                                                                         cache_read_tokens=1_024, reasoning_tokens=0), None),
    ("flex tier gpt-5.5", "openai", "gpt-5.5", None, Usage(input_tokens=20_000, output_tokens=2_000, reasoning_tokens=1_500), "flex"),
    ("deepseek time of day", "deepseek", "deepseek-chat", None, Usage(input_tokens=100_000, cache_read_tokens=60_000,
                                                                      output_tokens=5_000), None),
    ("unpriced model", "openai", "my-fine-tune", None, Usage(input_tokens=1_000, output_tokens=100), None),
]


def _cpu_per_call(fn, calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


def _reference(provider: str, model: str, usage: Usage, tier: str | None):
    full = genai_prices.Usage(**usage_counts(usage))
    context = {"service_tier": tier} if tier else None

    def call():
        try:
            genai_prices.calc_price(full, model, provider_id=price_data_id(provider), price_context=context)
        except LookupError:
            pass

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"{'scenario':24} {'first call':>11} {'price_call':>11} {'calc_price':>11}   (us a call, CPU)")
    for name, provider, response_model, request_model, usage, tier in SCENARIOS:
        reload()
        start = time.process_time()
        price_call(provider, response_model, request_model, usage, None, tier)
        first = (time.process_time() - start) * 1e6
        ours = _cpu_per_call(lambda: price_call(provider, response_model, request_model, usage, None, tier), args.calls, args.rounds)
        theirs = _cpu_per_call(_reference(provider, response_model, usage, tier), max(args.calls // 20, 200), args.rounds)
        print(f"{name:24} {first:11.0f} {ours:11.2f} {theirs:11.1f}")


if __name__ == "__main__":
    main()
