"""Pricing: each call through the real SDK, at the provider's real base URL, answered by an
``httpx2.MockTransport`` in the provider's wire format; every expected cost is worked out by hand
from the provider's published prices in the comment next to it (tokens x USD per million / 1e6)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from otel_llm import attributes as attr
from otel_llm import pricing
from otel_llm.anthropic import AnthropicInstrumentor
from otel_llm.openai import OpenAIInstrumentor
from otel_llm.pricing import price_call
from otel_llm.pricing.cost import usd_text
from otel_llm.usage import Usage

D = Decimal


@pytest.fixture(autouse=True)
def fresh_prices(monkeypatch, tmp_path):
    """No override, no provider declaration, no refreshed data unless a test sets one."""
    monkeypatch.delenv("OTEL_LLM_PRICES_FILE", raising=False)
    monkeypatch.delenv("OTEL_LLM_PROVIDERS", raising=False)
    monkeypatch.setenv("OTEL_LLM_PRICES_CACHE", str(tmp_path / "no-refresh.json"))
    pricing.reload()
    yield
    pricing.reload()


@pytest.fixture
def instrumented(tracer_provider, meter_provider, span_exporter):
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield span_exporter
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def answering(body: dict[str, Any]) -> httpx2.MockTransport:
    return httpx2.MockTransport(lambda request: httpx2.Response(200, json=body))


def openai_client(base_url: str, body: dict[str, Any]) -> openai.OpenAI:
    http_client = openai.DefaultHttpxClient(transport=answering(body))
    return openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, http_client=http_client)


def chat_body(model: str, usage: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
        "usage": usage, **extra,
    }


def chat(base_url: str, model: str, usage: dict[str, Any], **extra: Any) -> None:
    with openai_client(base_url, chat_body(model, usage, **extra)) as client:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def claude(model: str, usage: dict[str, Any], base_url: str = "https://api.anthropic.com") -> None:
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}
    http_client = anthropic.DefaultHttpxClient(transport=answering(body))
    with anthropic.Anthropic(base_url=base_url, api_key="k", max_retries=0, http_client=http_client) as client:
        client.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}])


def recorded(exporter) -> tuple[str, Decimal | None, dict[str, Any]]:
    (span,) = exporter.get_finished_spans()
    exporter.clear()
    a = span.attributes
    cost = a.get(attr.COST_USD)
    return a[attr.PROVIDER_NAME], (D(cost) if cost is not None else None), dict(a)


# --- provider and cost of each call, by hand from published prices ---------------------------


def test_gpt_5_5_with_cached_input_and_reasoning(instrumented):
    chat("https://api.openai.com/v1", "gpt-5.5", {
        "prompt_tokens": 10_000, "completion_tokens": 2_000, "total_tokens": 12_000,
        "prompt_tokens_details": {"cached_tokens": 4_000}, "completion_tokens_details": {"reasoning_tokens": 1_500}})
    provider, cost, a = recorded(instrumented)
    # input 6000 x $5 = 0.03; cached 4000 x $0.50 = 0.002; output (reasoning included) 2000 x $30 = 0.06
    assert (provider, cost) == ("openai", D("0.092"))
    assert a[attr.COST_PRICING_VERSION].startswith("genai-prices-")


def test_gpt_5_4_mini(instrumented):
    chat("https://api.openai.com/v1", "gpt-5.4-mini", {"prompt_tokens": 20_000, "completion_tokens": 1_000, "total_tokens": 21_000})
    # 20000 x $0.75 = 0.015; 1000 x $4.50 = 0.0045
    assert recorded(instrumented)[:2] == ("openai", D("0.0195"))


def test_gpt_5_4_mini_on_the_flex_tier_costs_the_flex_rate(instrumented):
    chat("https://api.openai.com/v1", "gpt-5.4-mini", {"prompt_tokens": 20_000, "completion_tokens": 1_000, "total_tokens": 21_000},
         service_tier="flex")
    provider, cost, a = recorded(instrumented)
    # flex: 20000 x $0.375 = 0.0075; 1000 x $2.25 = 0.00225
    assert (provider, cost) == ("openai", D("0.00975"))
    assert a[attr.OPENAI_RESPONSE_SERVICE_TIER] == "flex"


def test_gpt_5_5_on_the_priority_tier(instrumented):
    chat("https://api.openai.com/v1", "gpt-5.5", {"prompt_tokens": 1_000, "completion_tokens": 100, "total_tokens": 1_100},
         service_tier="priority")
    # priority: 1000 x $12.50 = 0.0125; 100 x $75 = 0.0075
    assert recorded(instrumented)[:2] == ("openai", D("0.02"))


def test_o3_pro_through_the_responses_api(instrumented):
    body = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "o3-pro",
            "output": [{"type": "message", "id": "m1", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": "ok", "annotations": []}]}],
            "usage": {"input_tokens": 1_234, "output_tokens": 5_678, "total_tokens": 6_912,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 5_000}},
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    with openai_client("https://api.openai.com/v1", body) as client:
        client.responses.create(model="o3-pro", input="hi")
    # 1234 x $20 = 0.02468; 5678 x $80 = 0.45424
    assert recorded(instrumented)[:2] == ("openai", D("0.47892"))


def test_claude_sonnet_4_6_with_cache_reads_and_both_write_kinds(instrumented):
    claude("claude-sonnet-4-6", {"input_tokens": 1_000, "cache_read_input_tokens": 10_000, "cache_creation_input_tokens": 2_000,
                                 "cache_creation": {"ephemeral_5m_input_tokens": 1_500, "ephemeral_1h_input_tokens": 500},
                                 "output_tokens": 500})
    provider, cost, a = recorded(instrumented)
    # input 1000 x $3 = 0.003; read 10000 x $0.30 = 0.003; 5m write 1500 x $3.75 = 0.005625;
    # 1h write 500 x $6 = 0.003; output 500 x $15 = 0.0075
    assert (provider, cost) == ("anthropic", D("0.022125"))
    assert {k: D(v) for k, v in json.loads(a[attr.COST_DETAILS]).items()} == {
        "input": D("0.003"), "cache_read": D("0.003"), "cache_write": D("0.005625"),
        "cache_write_1h": D("0.003"), "output": D("0.0075")}


def test_claude_opus_4_7_web_searches_are_billed(instrumented):
    claude("claude-opus-4-7", {"input_tokens": 3_000, "output_tokens": 1_000, "server_tool_use": {"web_search_requests": 2},
                               "service_tier": "standard"})
    provider, cost, a = recorded(instrumented)
    # input 3000 x $5 = 0.015; output 1000 x $25 = 0.025; 2 searches x $10 / 1000 = 0.02
    assert (provider, cost) == ("anthropic", D("0.06"))
    assert json.loads(a[attr.COST_DETAILS])["web_searches"] == "0.020000000"
    assert json.loads(a[attr.USAGE_DETAILS]) == {"web_search_requests": 2}
    assert a[attr.ANTHROPIC_SERVICE_TIER] == "standard"


def test_openrouter_is_not_billed_as_openai(instrumented):
    chat("https://openrouter.ai/api/v1", "openai/gpt-4o-mini", {
        "prompt_tokens": 100_000, "completion_tokens": 10_000, "total_tokens": 110_000,
        "prompt_tokens_details": {"cached_tokens": 50_000}})
    # OpenRouter's openai/gpt-4o-mini: 50000 x $0.15 = 0.0075; cached 50000 x $0.075 = 0.00375; 10000 x $0.60 = 0.006
    assert recorded(instrumented)[:2] == ("openrouter", D("0.01725"))


def test_groq(instrumented):
    chat("https://api.groq.com/openai/v1", "llama-3.3-70b-versatile",
         {"prompt_tokens": 1_000_000, "completion_tokens": 100_000, "total_tokens": 1_100_000})
    # 1000000 x $0.59 = 0.59; 100000 x $0.79 = 0.079
    assert recorded(instrumented)[:2] == ("groq", D("0.669"))


def test_deepseek_cache_hits_and_misses(instrumented):
    chat("https://api.deepseek.com", "deepseek-chat", {
        "prompt_tokens": 100_000, "completion_tokens": 5_000, "total_tokens": 105_000,
        "prompt_cache_hit_tokens": 60_000, "prompt_cache_miss_tokens": 40_000})
    provider, cost, a = recorded(instrumented)
    now = datetime.now(timezone.utc).time()
    peak = (0, 30) <= (now.hour, now.minute) < (16, 30)  # DeepSeek's standard hours, UTC; half price off-peak
    # peak: miss 40000 x $0.27 = 0.0108; hit 60000 x $0.07 = 0.0042; output 5000 x $1.10 = 0.0055
    assert (provider, cost) == ("deepseek", D("0.0205") if peak else D("0.01025"))
    assert json.loads(a[attr.USAGE_DETAILS]) == {"cache_hit": 60_000, "cache_miss": 40_000}
    assert a[attr.USAGE_CACHE_READ_INPUT_TOKENS] == 60_000


def test_xai_grok_4(instrumented):
    chat("https://api.x.ai/v1", "grok-4", {"prompt_tokens": 10_000, "completion_tokens": 1_000, "total_tokens": 11_000,
                                           "prompt_tokens_details": {"cached_tokens": 2_000}})
    # 8000 x $3 = 0.024; cached 2000 x $0.75 = 0.0015; 1000 x $15 = 0.015
    assert recorded(instrumented)[:2] == ("x_ai", D("0.0405"))


def test_azure_openai_client(instrumented):
    body = chat_body("gpt-4o-mini", {"prompt_tokens": 1_000, "completion_tokens": 1_000, "total_tokens": 2_000})
    with openai.AzureOpenAI(
        azure_endpoint="https://acme.openai.azure.com", api_version="2024-10-21", api_key="k", max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=answering(body)),
    ) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    # Azure's gpt-4o-mini: 1000 x $0.15 = 0.00015; 1000 x $0.60 = 0.0006
    assert recorded(instrumented)[:2] == ("azure.ai.openai", D("0.00075"))


# --- hosts that are not a known provider -----------------------------------------------------


def test_self_hosted_server_is_unpriced_with_the_reason(instrumented):
    chat("http://localhost:11434/v1", "gpt-4o-mini", {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
    provider, cost, a = recorded(instrumented)
    assert (provider, cost) == ("self_hosted", None)
    assert "self-hosted" in a[attr.COST_UNPRICED_REASON]


@pytest.mark.parametrize("host", ["llm.example.com", "openai-proxy.example.com"])
def test_unknown_host_is_never_openai(instrumented, host):
    chat(f"https://{host}/v1", "gpt-4o-mini", {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
    provider, cost, a = recorded(instrumented)
    assert (provider, cost) == (host, None)
    assert "OTEL_LLM_PROVIDERS" in a[attr.COST_UNPRICED_REASON]


def test_a_gateway_declared_as_openai_is_priced_as_openai(instrumented, monkeypatch):
    monkeypatch.setenv("OTEL_LLM_PROVIDERS", "llm.example.com=openai, 10.1.2.3:4000=anthropic")
    chat("https://llm.example.com/v1", "gpt-4o-mini", {"prompt_tokens": 1_000, "completion_tokens": 1_000, "total_tokens": 2_000})
    # 1000 x $0.15 = 0.00015; 1000 x $0.60 = 0.0006
    assert recorded(instrumented)[:2] == ("openai", D("0.00075"))
    claude("claude-opus-4-7", {"input_tokens": 1_000, "output_tokens": 1_000}, base_url="http://10.1.2.3:4000")
    # 1000 x $5 = 0.005; 1000 x $25 = 0.025
    assert recorded(instrumented)[:2] == ("anthropic", D("0.03"))


def test_an_override_prices_a_self_hosted_model(instrumented, monkeypatch, tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"version": "acme-1", "providers": {"self_hosted": {"models": {
        "llama3": [{"input": 0.10, "output": 0.20}]}}}}))
    monkeypatch.setenv("OTEL_LLM_PRICES_FILE", str(path))
    pricing.reload()
    chat("http://127.0.0.1:8000/v1", "llama3", {"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000})
    provider, cost, a = recorded(instrumented)
    # 1000000 x $0.10 = 0.1; 500000 x $0.20 = 0.1
    assert (provider, cost) == ("self_hosted", D("0.2"))
    assert a[attr.COST_PRICING_VERSION].endswith("+overrides-acme-1")


def test_a_client_keeps_its_provider_until_its_base_url_or_the_declarations_change(instrumented, monkeypatch):
    from otel_llm.pricing import providers

    monkeypatch.setattr(providers, "_declared", {})
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-7",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1}}
    http_client = anthropic.DefaultHttpxClient(transport=answering(body))
    client = anthropic.Anthropic(base_url="https://llm.example.com", api_key="k", max_retries=0, http_client=http_client)

    def provider() -> str:
        client.messages.create(model="claude-opus-4-7", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
        return recorded(instrumented)[0]

    try:
        assert provider() == provider() == "llm.example.com"
        pricing.declare_provider("llm.example.com", "anthropic")
        assert provider() == "anthropic"
        client.base_url = "http://localhost:8000"
        assert provider() == "self_hosted"
    finally:
        client.close()
        providers._resolve.cache_clear()  # nothing of this test's declaration stays cached


# --- the price function itself ---------------------------------------------------------------


def test_usd_text_is_the_decimal_in_fixed_point():
    for nanos in (0, 5, 999_999_999, 1_000_000_000, 1_234_567_890_123, -5, -1_234_567_890_123):
        assert usd_text(nanos) == format(pricing.usd(nanos), "f")


def test_overrides_win_over_the_data_and_keep_their_history(monkeypatch, tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"version": "negotiated", "providers": {"openai": {"models": {"gpt-4o": [
        {"input": 2, "output": 8},
        {"effective_from": "2026-01-01", "input": 1, "cache_read": 0.1, "output": 4,
         "tiers": [{"above_input_tokens": 100000, "input": 2, "cache_read": 0.2, "output": 8}]}]}}}}))
    monkeypatch.setenv("OTEL_LLM_PRICES_FILE", str(path))
    pricing.reload()
    usage = Usage(input_tokens=1_000, cache_read_tokens=500, output_tokens=100)
    before = price_call("openai", "gpt-4o-2024-08-06", "gpt-4o", usage, at=datetime(2025, 6, 1))
    # 2025: no cache-read rate, so reads cost input: 1000 x $2 = 0.002; 100 x $8 = 0.0008
    assert (before.usd, before.model_key) == (D("0.0028"), "openai/gpt-4o")
    after = price_call("openai", "gpt-4o", None, usage, at=datetime(2026, 6, 1, tzinfo=timezone.utc))
    # 2026: 500 x $1 = 0.0005; 500 x $0.10 = 0.00005; 100 x $4 = 0.0004
    assert after.usd == D("0.00095")
    long = price_call("openai", "gpt-4o", None, Usage(input_tokens=200_000, output_tokens=1_000))
    # above 100k input the whole call is at the tier: 200000 x $2 = 0.4; 1000 x $8 = 0.008
    assert long.usd == D("0.408")


def test_a_broken_override_file_is_ignored_and_the_data_still_prices(monkeypatch, tmp_path, caplog):
    path = tmp_path / "prices.json"
    path.write_text('{"providers": {"openai": {"models": {"gpt-4o": [{"input": 1, "ouput": 2}]}}}}')
    monkeypatch.setenv("OTEL_LLM_PRICES_FILE", str(path))
    pricing.reload()
    cost = price_call("openai", "gpt-4o", None, Usage(input_tokens=1_000_000, output_tokens=0))
    assert cost.usd == D("2.5")  # gpt-4o's list input price
    assert "ouput" in caplog.text


@pytest.mark.parametrize(
    "usage, reason",
    [(Usage(), "no token usage"), (Usage(input_tokens=10, cache_read_tokens=20), "inconsistent usage")],
)
def test_unpriced_calls_say_why_and_are_never_zero(usage, reason):
    cost = price_call("openai", "gpt-4o", None, usage)
    assert cost.total is None and reason in cost.unpriced_reason
    unknown = price_call("openai", "gpt-that-does-not-exist", None, Usage(input_tokens=1))
    assert unknown.total is None and "OTEL_LLM_PRICES_FILE" in unknown.unpriced_reason


def test_a_refreshed_snapshot_prices_and_says_so(monkeypatch, tmp_path):
    refreshed = tmp_path / "refreshed.json"
    refreshed.write_text(json.dumps([{
        "id": "openai", "name": "OpenAI", "api_pattern": "https://api\\\\.openai\\\\.com",
        "models": [{"id": "gpt-4o", "match": {"equals": "gpt-4o"}, "prices": {"input_mtok": 1, "output_mtok": 2}}]}]))
    monkeypatch.setenv("OTEL_LLM_PRICES_CACHE", str(refreshed))
    pricing.reload()
    cost = price_call("openai", "gpt-4o", None, Usage(input_tokens=1_000_000, output_tokens=1_000_000))
    assert cost.usd == D("3")
    assert "@" in cost.pricing_version  # genai-prices-<version>@<when it was fetched>


def test_anthropic_compaction_and_advisor_iterations_are_billed(instrumented):
    claude("claude-sonnet-4-6", {
        "input_tokens": 1_000, "output_tokens": 500, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
        "iterations": [
            {"type": "compaction", "input_tokens": 2_000, "cache_read_input_tokens": 1_000, "cache_creation_input_tokens": 0,
             "output_tokens": 300},
            {"type": "advisor_message", "model": "claude-opus-4-7", "input_tokens": 4_000, "cache_read_input_tokens": 0,
             "cache_creation_input_tokens": 0, "output_tokens": 700},
            {"type": "message", "input_tokens": 1_000, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
             "output_tokens": 500},
        ]})
    provider, cost, a = recorded(instrumented)
    # top level (the message iteration): 1000 x $3 = 0.003; 500 x $15 = 0.0075
    # compaction, at sonnet's rates: 2000 x $3 = 0.006; read 1000 x $0.30 = 0.0003; 300 x $15 = 0.0045
    # advisor, at opus 4.7's: 4000 x $5 = 0.02; 700 x $25 = 0.0175
    assert (provider, cost) == ("anthropic", D("0.0588"))
    assert json.loads(a[attr.USAGE_DETAILS]) == {
        "compaction_input": 2_000, "compaction_cache_read": 1_000, "compaction_output": 300,
        "advisor_input@claude-opus-4-7": 4_000, "advisor_output@claude-opus-4-7": 700}
    assert json.loads(a[attr.COST_DETAILS])["advisor_output"] == "0.017500000"


def test_prices_command_shows_components_and_why_not(capsys):
    from otel_llm.cli import main

    assert main(["prices", "--provider", "anthropic", "claude-opus-4-7"]) == 0
    out = capsys.readouterr().out
    assert "anthropic/claude-opus-4-7, from genai-prices" in out
    assert "cache_write_1h           $10 per MTok" in out and "web_searches             $10 per 1,000" in out
    assert main(["prices", "--tier", "flex", "gpt-5.4-mini"]) == 0
    assert "input                    $0.375 per MTok" in capsys.readouterr().out
    assert main(["prices", "--provider", "self_hosted", "llama3"]) == 1
    assert "self-hosted" in capsys.readouterr().out


def test_prices_update_offline_fails_cleanly_and_keeps_the_prices(monkeypatch, capsys):
    import genai_prices.update_prices

    from otel_llm.cli import main

    monkeypatch.setattr(genai_prices.update_prices, "DEFAULT_UPDATE_URL", "http://127.0.0.1:9/data.json")
    assert main(["prices", "update"]) == 1
    assert "could not fetch" in capsys.readouterr().err
    assert price_call("openai", "gpt-4o", None, Usage(input_tokens=1_000_000, output_tokens=0)).usd == D("2.5")


def test_anthropic_fast_mode_is_priced_at_its_own_rates(instrumented):
    usage = {"input_tokens": 1_000, "output_tokens": 100, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    claude("claude-opus-5", {**usage, "speed": "fast"})
    provider, cost, a = recorded(instrumented)
    # claude-opus-5 fast mode: 1000 x $10 = 0.01; 100 x $50 = 0.005 (standard: $5 / $25)
    assert (provider, cost, a[attr.ANTHROPIC_SPEED]) == ("anthropic", D("0.015"), "fast")
    claude("claude-opus-5", {**usage, "speed": "standard"})
    provider, cost, a = recorded(instrumented)
    assert cost == D("0.0075") and attr.ANTHROPIC_SPEED not in a


@pytest.mark.parametrize(
    "usage, expected, components",
    [
        # what OpenRouter charged (its credits are USD), whatever a price list says
        ({"cost": 0.00021, "is_byok": False, "cost_details": {"upstream_inference_cost": None}},
         D("0.00021"), {"charged": "0.000210000"}),
        # the user's own key: OpenRouter's fee, plus what the provider charged that key
        ({"cost": 0.0000105, "is_byok": True, "cost_details": {"upstream_inference_cost": 0.00021}},
         D("0.0002205"), {"charged": "0.000010500", "upstream_charged": "0.000210000"}),
    ],
)
def test_openrouter_charge_is_the_cost(instrumented, usage, expected, components):
    chat("https://openrouter.ai/api/v1", "openai/gpt-4o-mini",
         {"prompt_tokens": 1_000, "completion_tokens": 100, "total_tokens": 1_100, **usage})
    provider, cost, a = recorded(instrumented)
    assert (provider, cost) == ("openrouter", expected)
    assert json.loads(a[attr.COST_DETAILS]) == components
    assert a[attr.COST_PRICING_VERSION] == "charged by openrouter"


def test_a_charge_that_is_not_an_amount_is_priced_from_the_list(instrumented):
    chat("https://openrouter.ai/api/v1", "openai/gpt-4o-mini",
         {"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 1_000_000, "cost": "0.2"})
    provider, cost, a = recorded(instrumented)
    assert cost is not None and a[attr.COST_PRICING_VERSION].startswith("genai-prices")


def test_openrouter_charge_in_a_stream_is_the_cost(instrumented):
    chunks = [
        {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "openai/gpt-4o-mini",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
        {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "openai/gpt-4o-mini",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        # OpenRouter's last chunk: usage, with what it charged
        {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "openai/gpt-4o-mini", "choices": [],
         "usage": {"prompt_tokens": 1_000, "completion_tokens": 100, "total_tokens": 1_100, "cost": 0.00021}},
    ]
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    transport = httpx2.MockTransport(lambda request: httpx2.Response(
        200, content=body.encode(), headers={"content-type": "text/event-stream"}))
    client = openai.OpenAI(base_url="https://openrouter.ai/api/v1", api_key="sk-test", max_retries=0,
                           http_client=openai.DefaultHttpxClient(transport=transport))
    with client:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True) if chunk.choices)
    assert text == "ok"
    provider, cost, _ = recorded(instrumented)
    assert (provider, cost) == ("openrouter", D("0.00021"))
