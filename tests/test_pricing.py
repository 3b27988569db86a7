"""Cost computation: every expected figure below is worked out by hand in the comment next to it
(tokens x USD-per-million / 1e6)."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal, localcontext

import pytest

from otel_llm import pricing
from otel_llm.pricing import PRICING_VERSION, CostResult, call_nanos, compute_call_cost, compute_cost, lookup
from otel_llm.pricing.loader import current_table
from otel_llm.usage import Usage, from_anthropic, from_openai_embeddings, from_openai_responses

D = Decimal


@pytest.fixture(autouse=True)
def fresh_table(monkeypatch):
    """Each test loads the table itself, with no override unless it sets one."""
    monkeypatch.delenv("OTEL_LLM_PRICES_FILE", raising=False)
    pricing.reload()
    yield
    pricing.reload()


def use_override(monkeypatch, tmp_path, content) -> str:
    path = tmp_path / "prices.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    monkeypatch.setenv("OTEL_LLM_PRICES_FILE", str(path))
    pricing.reload()
    return str(path)


# --- arithmetic -----------------------------------------------------------------------------


def test_gpt_4o_cached_input_is_priced_at_the_cached_rate():
    usage = Usage(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=789)
    result = compute_cost("openai", "gpt-4o", usage)
    # uncached 8249 x 2.50 = 0.0206225; cached 4096 x 1.25 = 0.00512; output 789 x 10 = 0.00789
    assert result.components == {
        "input": D("0.020622500"),
        "cache_read": D("0.005120000"),
        "output": D("0.007890000"),
    }
    assert result.usd == D("0.033632500")
    assert result.model_key == "openai/gpt-4o"
    assert result.pricing_version == PRICING_VERSION
    assert result.unpriced_reason is None


def test_o3_mini_reasoning_is_output_and_not_counted_twice():
    usage = Usage(input_tokens=2_000, output_tokens=3_000, reasoning_tokens=2_500)
    result = compute_cost("openai", "o3-mini", usage)
    # input 2000 x 1.10 = 0.0022; output (reasoning included) 3000 x 4.40 = 0.0132
    assert result.components == {"input": D("0.002200000"), "output": D("0.013200000")}
    assert result.usd == D("0.015400000")


def test_text_embedding_3_small():
    usage = from_openai_embeddings({"prompt_tokens": 123_457, "total_tokens": 123_457})
    result = compute_cost("openai", "text-embedding-3-small", usage)
    # 123457 x 0.02 = 0.00246914; embeddings produce no output
    assert result.components == {"input": D("0.002469140")}
    assert result.usd == D("0.002469140")


def test_anthropic_sonnet_cache_reads_and_5m_and_1h_writes():
    usage = from_anthropic(
        {
            "input_tokens": 100,
            "cache_read_input_tokens": 2_000,
            "cache_creation_input_tokens": 1_500,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 1_000,
                "ephemeral_1h_input_tokens": 500,
            },
            "output_tokens": 400,
        }
    )
    assert usage.input_tokens == 3_600  # the convention: cache included
    result = compute_cost("anthropic", "claude-sonnet-4-5-20250929", usage)
    # 100 x 3 = 0.0003; 2000 x 0.30 = 0.0006; 1000 x 3.75 = 0.00375; 500 x 6 = 0.003;
    # output 400 x 15 = 0.006
    assert result.components == {
        "input": D("0.000300000"),
        "cache_read": D("0.000600000"),
        "cache_write_5m": D("0.003750000"),
        "cache_write_1h": D("0.003000000"),
        "output": D("0.006000000"),
    }
    assert result.usd == D("0.013650000")
    assert result.model_key == "anthropic/claude-sonnet-4-5"


def test_unsplit_cache_write_remainder_costs_the_5m_rate():
    # 1500 written, only 1000 of them reported as 5m: the other 500 are priced at the 5m rate too.
    usage = Usage(
        input_tokens=1_600,
        cache_write_tokens=1_500,
        output_tokens=0,
        details={"cache_write_5m": 1_000},
    )
    result = compute_cost("anthropic", "claude-3-5-haiku", usage)
    # 100 x 0.80 = 0.00008; 1000 x 1.00 = 0.001; 500 x 1.00 = 0.0005
    assert result.components == {
        "input": D("0.000080000"),
        "cache_write_5m": D("0.001000000"),
        "cache_write": D("0.000500000"),
    }
    assert result.usd == D("0.001580000")


def test_openai_cache_writes_without_a_write_price_cost_the_input_rate():
    usage = from_openai_responses(
        {
            "input_tokens": 10_000,
            "input_tokens_details": {
                "cached_tokens": 0,
                "cache_write_tokens": 3_000,
                "cache_write_tokens_details": {"ttl_30m_tokens": 2_000, "ttl_12h_tokens": 1_000},
            },
            "output_tokens": 100,
            "output_tokens_details": {"reasoning_tokens": 60},
        }
    )
    result = compute_cost("openai", "gpt-5", usage)
    # uncached 7000 x 1.25 = 0.00875; writes at the input rate: 2000 x 1.25 = 0.0025,
    # 1000 x 1.25 = 0.00125; output 100 x 10 = 0.001
    assert result.components == {
        "input": D("0.008750000"),
        "cache_write_30m": D("0.002500000"),
        "cache_write_12h": D("0.001250000"),
        "output": D("0.001000000"),
    }
    assert result.usd == D("0.013500000")


def test_long_context_tier_prices_the_whole_call_once_input_exceeds_200k():
    at_limit = compute_cost(
        "anthropic", "claude-sonnet-4-5", Usage(input_tokens=200_000, output_tokens=1_000)
    )
    # base: 200000 x 3 = 0.6; 1000 x 15 = 0.015
    assert at_limit.usd == D("0.615000000")

    over = compute_cost(
        "anthropic", "claude-sonnet-4-5", Usage(input_tokens=200_001, output_tokens=1_000)
    )
    # long context: 200001 x 6 = 1.200006; 1000 x 22.50 = 0.0225
    assert over.components == {"input": D("1.200006000"), "output": D("0.022500000")}
    assert over.usd == D("1.222506000")


def test_cache_reads_count_toward_the_long_context_threshold():
    usage = Usage(input_tokens=200_001, cache_read_tokens=199_001, output_tokens=1_000)
    result = compute_cost("anthropic", "claude-sonnet-4", usage)
    # tier rates: 1000 x 6 = 0.006; 199001 x 0.60 = 0.1194006; 1000 x 22.50 = 0.0225
    assert result.components == {
        "input": D("0.006000000"),
        "cache_read": D("0.119400600"),
        "output": D("0.022500000"),
    }
    assert result.usd == D("0.147900600")


def test_effective_date_selects_the_price_in_force_at_the_call():
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    before = datetime(2025, 6, 9, 23, 59, tzinfo=timezone.utc)
    # o3 before its 2025-06-10 cut: 1000 x 10 + 1000 x 40 = 0.05
    assert compute_cost("openai", "o3", usage, at=before).usd == D("0.050000000")
    # after: 1000 x 2 + 1000 x 8 = 0.01
    assert compute_cost("openai", "o3", usage, at=before + timedelta(minutes=1)).usd == D(
        "0.010000000"
    )
    # 01:00 at UTC+2 is still 2025-06-09 in UTC; a naive time is taken as UTC.
    plus_two = datetime(2025, 6, 10, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert compute_cost("openai", "o3", usage, at=plus_two).usd == D("0.050000000")
    assert compute_cost("openai", "o3", usage, at=datetime(2025, 6, 10)).usd == D("0.010000000")
    # no time given: now, after the cut
    assert compute_cost("openai", "o3", usage).usd == D("0.010000000")


def test_costs_do_not_depend_on_the_callers_decimal_context():
    usage = Usage(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=789)
    with localcontext() as ctx:
        ctx.prec = 3
        assert compute_cost("openai", "gpt-4o", usage).usd == D("0.033632500")


# --- unpriced -------------------------------------------------------------------------------


def test_unknown_model_is_unpriced_with_a_reason_never_zero():
    result = compute_cost("openai", "gpt-9-ultra", Usage(input_tokens=10, output_tokens=10))
    assert result == CostResult(
        usd=None,
        components={},
        pricing_version=PRICING_VERSION,
        model_key=None,
        unpriced_reason="no price for model 'gpt-9-ultra' (provider 'openai'); "
        "add it via OTEL_LLM_PRICES_FILE",
    )


def test_call_nanos_is_the_call_cost_in_nano_usd():
    usage = Usage(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=789)
    nanos = call_nanos("openai", "gpt-4o", "gpt-4o", usage)
    assert nanos.total == 33_632_500
    assert nanos.components == {"input": 20_622_500, "cache_read": 5_120_000, "output": 7_890_000}
    assert (nanos.pricing_version, nanos.model_key, nanos.unpriced_reason) == (PRICING_VERSION, "openai/gpt-4o", None)
    unpriced = call_nanos("openai", "gpt-9-ultra", None, usage)
    assert (unpriced.total, unpriced.components, unpriced.model_key) == (None, {}, None)
    assert "gpt-9-ultra" in unpriced.unpriced_reason


def test_call_cost_prefers_the_answering_model_and_falls_back_to_the_requested_one():
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    by_snapshot = compute_call_cost("openai", "gpt-4o-2024-05-13", "gpt-4o", usage)
    assert (by_snapshot.model_key, by_snapshot.usd) == ("openai/gpt-4o-2024-05-13", Decimal("5"))
    # A deployment name the table does not know answered: price what was asked for.
    by_request = compute_call_cost("openai", "my-azure-deployment", "gpt-4o", usage)
    assert (by_request.model_key, by_request.usd) == ("openai/gpt-4o", Decimal("2.5"))
    neither = compute_call_cost("openai", "gpt-9-ultra", None, usage)
    assert neither.usd is None and "gpt-9-ultra" in neither.unpriced_reason


def test_known_model_without_any_token_counts_is_unpriced():
    result = compute_cost("anthropic", "claude-haiku-4-5", Usage())
    assert result.usd is None
    assert result.unpriced_reason == "no token usage reported"
    assert result.model_key == "anthropic/claude-haiku-4-5"


def test_missing_model_is_unpriced():
    result = compute_cost("openai", None, Usage(input_tokens=1))
    assert (result.usd, result.unpriced_reason) == (None, "no model reported")
    assert lookup("openai", None) is None


def test_a_missing_count_is_zero_once_another_is_reported():
    # e.g. an Anthropic stream cut before message_delta: input known, output not
    result = compute_cost("anthropic", "claude-haiku-4-5", Usage(input_tokens=2_000))
    assert result.components == {"input": D("0.002000000")}  # 2000 x 1.00
    assert result.usd == D("0.002000000")


def test_zero_tokens_reported_costs_zero():
    # 0 means the provider said 0: that is a real, free call, unlike "not reported".
    result = compute_cost("openai", "gpt-4o-mini", Usage(input_tokens=0, output_tokens=0))
    assert (result.usd, result.components) == (D("0E-9"), {})


# --- resolution -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "key"),
    [
        ("openai", "gpt-4o", "openai/gpt-4o"),
        ("openai", "gpt-4o-2024-08-06", "openai/gpt-4o"),
        ("openai", "GPT-4o-Mini-2024-07-18", "openai/gpt-4o-mini"),
        ("openai", "o3-mini-2025-01-31", "openai/o3-mini"),
        ("openai", "gpt-5-nano-2025-08-07", "openai/gpt-5-nano"),
        ("openai", "gpt-4.1-mini", "openai/gpt-4.1-mini"),
        ("openai", "text-embedding-ada-002", "openai/text-embedding-ada-002"),
        ("azure.ai.openai", "openai/gpt-4o", "openai/gpt-4o"),
        (None, "gpt-5-chat-latest", "openai/gpt-5"),  # explicit alias
        ("anthropic", "claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"),
        ("anthropic", "claude-3-5-sonnet-latest", "anthropic/claude-3-5-sonnet"),
        ("anthropic", "claude-sonnet-4-0", "anthropic/claude-sonnet-4"),  # explicit alias
        ("anthropic", "claude-opus-4-1-20250805", "anthropic/claude-opus-4-1"),
        ("anthropic", "claude-opus-4-20250514", "anthropic/claude-opus-4"),
        ("anthropic", "claude-3-haiku-20240307", "anthropic/claude-3-haiku"),
        ("aws.bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic/claude-3-5-sonnet"),
        (
            "aws.bedrock",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic/claude-sonnet-4-5",
        ),
        (
            "aws.bedrock",
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic/claude-haiku-4-5",
        ),
        (
            "aws.bedrock",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "anthropic/claude-3-7-sonnet",
        ),
        ("gcp.vertex_ai", "claude-3-5-sonnet-v2@20241022", "anthropic/claude-3-5-sonnet"),
        ("gcp.vertex_ai", "claude-opus-4-1@20250805", "anthropic/claude-opus-4-1"),
        ("gcp.vertex_ai", "claude-3-opus@20240229", "anthropic/claude-3-opus"),
    ],
)
def test_model_ids_resolve_to_their_table_entry(provider, model, key):
    price = lookup(provider, model)
    assert price is not None and price.key == key


def test_an_exact_snapshot_entry_wins_over_its_family():
    # gpt-4o-2024-05-13 kept its launch price; it must not be priced as gpt-4o.
    result = compute_cost(
        "openai", "gpt-4o-2024-05-13", Usage(input_tokens=1_000, output_tokens=1_000)
    )
    assert result.model_key == "openai/gpt-4o-2024-05-13"
    assert result.usd == D("0.020000000")  # 1000 x 5 + 1000 x 15


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4",
        "claude-2",
        "ft:gpt-4o-mini-2024-07-18:acme::abc123",
        "gpt-4o-audio-preview",
        "deepseek-v3",
        "",
    ],
)
def test_no_fuzzy_matching(model):
    assert lookup("openai", model) is None


def test_resolution_is_cached():
    find = current_table().find
    lookup("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    hits = find.cache_info().hits
    compute_cost(
        "aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Usage(input_tokens=1)
    )
    assert find.cache_info().hits == hits + 1


def test_concurrent_first_calls_load_one_table():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(current_table())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 16 and all(table is seen[0] for table in seen)


# --- the bundled table itself -----------------------------------------------------------------

REQUIRED = {
    "openai": [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "o1",
        "o3",
        "o3-mini",
        "o4-mini",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
    ],
    "anthropic": [
        "claude-opus-4",
        "claude-opus-4-1",
        "claude-sonnet-4",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-3-7-sonnet",
        "claude-3-5-haiku",
        "claude-3-5-sonnet",
        "claude-3-haiku",
        "claude-3-opus",
    ],
}


def test_bundled_table_covers_the_required_models_and_cites_sources():
    table = current_table()
    assert PRICING_VERSION == table.version == "2026-11-22"
    for provider, models in REQUIRED.items():
        assert table.providers[provider].source
        for model in models:
            assert lookup(provider, model).key == f"{provider}/{model}"


def test_anthropic_cache_prices_follow_the_published_multipliers():
    # Claude 3 Haiku predates the multipliers; its published cache prices are rounded
    # ($0.30 / $0.50 / $0.03 against a $0.25 input), and the published prices are what is billed.
    haiku_3 = current_table().providers["anthropic"].models["claude-3-haiku"].entries[0].rates
    assert (haiku_3["cache_write_5m"], haiku_3["cache_write_1h"], haiku_3["cache_read"]) == (
        D("0.30"),
        D("0.50"),
        D("0.03"),
    )
    for price in current_table().providers["anthropic"].models.values():
        if price.model == "claude-3-haiku":
            continue
        for entry in price.entries:
            for rates in (entry.rates, *(tier.rates for tier in entry.tiers)):
                assert rates["cache_write_5m"] == rates["input"] * D("1.25"), price.key
                assert rates["cache_write_1h"] == rates["input"] * 2, price.key
                assert rates["cache_read"] == rates["input"] * D("0.1"), price.key


# --- the override file ----------------------------------------------------------------------

OVERRIDE = {
    "version": "acme-1",
    "providers": {
        "openai": {
            "aliases": {"prod-chat-deployment": "gpt-4o"},
            "models": {"gpt-4o": [{"input": 3, "cache_read": 1.5, "output": 12}]},
        },
        "acme": {
            "source": "our contract",
            "models": {"acme-llm": [{"input": 0.5, "output": 1.5}]},
        },
    },
}


def test_override_file_adds_a_model_overrides_a_price_and_adds_an_alias(monkeypatch, tmp_path):
    use_override(monkeypatch, tmp_path, OVERRIDE)
    usage = Usage(input_tokens=1_000, cache_read_tokens=200, output_tokens=100)

    overridden = compute_cost("openai", "gpt-4o-2024-08-06", usage)
    # 800 x 3 = 0.0024; 200 x 1.5 = 0.0003; 100 x 12 = 0.0012
    assert overridden.usd == D("0.003900000")
    assert overridden.pricing_version == f"{PRICING_VERSION}+acme-1"

    added = compute_cost("acme", "acme-llm", usage)
    # no cache_read rate: reads at the input rate, 1000 x 0.5 = 0.0005; 100 x 1.5 = 0.00015
    assert added.usd == D("0.000650000")
    assert added.model_key == "acme/acme-llm"

    assert lookup("azure.ai.openai", "prod-chat-deployment").key == "openai/gpt-4o"
    # the rest of the bundle is untouched
    assert compute_cost("openai", "gpt-4o-mini", usage).usd == D(
        "0.000195000"
    )  # 800x.15+200x.075+100x.6


def test_override_entries_with_effective_dates(monkeypatch, tmp_path):
    use_override(
        monkeypatch,
        tmp_path,
        {
            "providers": {
                "acme": {
                    "models": {
                        "acme-llm": [
                            {"effective_from": "2026-01-01", "input": 1, "output": 2},
                            {
                                "effective_from": "2026-07-01T00:00:00+00:00",
                                "input": 0.5,
                                "output": 1,
                            },
                        ]
                    }
                }
            }
        },
    )
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert compute_cost("acme", "acme-llm", usage, at=datetime(2026, 3, 1)).usd == D("3.000000000")
    assert compute_cost("acme", "acme-llm", usage, at=datetime(2026, 8, 1)).usd == D("1.500000000")
    early = compute_cost("acme", "acme-llm", usage, at=datetime(2025, 12, 31))
    assert early.usd is None
    assert (
        early.unpriced_reason == "no price for acme/acme-llm in force at 2025-12-31T00:00:00+00:00"
    )
    assert early.pricing_version == f"{PRICING_VERSION}+custom"


BUNDLED_GPT_4O = D("0.033632500")  # the gpt-4o case from the first test


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"providers": {"openai": ', "invalid JSON: Expecting value: line 1 column 26"),
        (
            {"providers": {"openai": {"models": {"gpt-4o": [{"input": -1, "output": 10}]}}}},
            "providers.openai.models.gpt-4o[0].input: price must not be negative, got -1",
        ),
        ({"providers": []}, "providers: must be a JSON object"),
        (
            {"providers": {"openai": {"models": {"gpt-4o": [{"input": 1, "ouput": 10}]}}}},
            "providers.openai.models.gpt-4o[0]: unknown key(s) ['ouput']",
        ),
        (
            {"providers": {"openai": {"models": {"gpt-4o": [{"input": "2.5", "output": 10}]}}}},
            "providers.openai.models.gpt-4o[0].input: must be a number, got '2.5'",
        ),
        (
            {"providers": {"openai": {"aliases": {"x": "no-such-model"}}}},
            "providers.openai.aliases.x: 'no-such-model' is not a model of 'openai'",
        ),
        (
            {
                "providers": {
                    "anthropic": {
                        "models": {
                            "m": [
                                {
                                    "input": 1,
                                    "output": 2,
                                    "cache_read": 0.1,
                                    "tiers": [
                                        {"above_input_tokens": 1000, "input": 2, "output": 4}
                                    ],
                                }
                            ]
                        }
                    }
                }
            },
            "providers.anthropic.models.m[0].tiers[0]: must list the same rates as its entry",
        ),
        (
            '{"providers": {"openai": {"models": {"gpt-4o": [{"input": NaN, "output": 1}]}}}}',
            "invalid JSON: NaN is not a price",
        ),
    ],
)
def test_broken_override_file_is_logged_and_the_bundle_is_used(
    monkeypatch, tmp_path, caplog, content, expected
):
    path = use_override(monkeypatch, tmp_path, content)
    with caplog.at_level(logging.ERROR, logger="otel_llm.pricing"):
        result = compute_cost(
            "openai",
            "gpt-4o",
            Usage(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=789),
        )
    assert result.usd == BUNDLED_GPT_4O
    assert result.pricing_version == PRICING_VERSION
    [record] = caplog.records
    message = record.getMessage()
    assert f"ignoring OTEL_LLM_PRICES_FILE={path}: " in message
    assert expected in message
    assert message.endswith(f"using the bundled prices (version {PRICING_VERSION})")


def test_missing_override_file_is_logged_and_the_bundle_is_used(monkeypatch, tmp_path, caplog):
    missing = tmp_path / "nope.json"
    monkeypatch.setenv("OTEL_LLM_PRICES_FILE", str(missing))
    pricing.reload()
    with caplog.at_level(logging.ERROR, logger="otel_llm.pricing"):
        result = compute_cost(
            "openai",
            "gpt-4o",
            Usage(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=789),
        )
        compute_cost("openai", "gpt-4o", Usage(input_tokens=1))
    assert result.usd == BUNDLED_GPT_4O
    # logged once, at load, not on every call
    expected = (
        f"otel-llm pricing: ignoring OTEL_LLM_PRICES_FILE={missing}: No such file or directory; "
        f"using the bundled prices (version {PRICING_VERSION})"
    )
    assert [r.getMessage() for r in caplog.records] == [expected]
