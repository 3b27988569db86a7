"""The canonical token convention, provider by provider, from wire-format dicts and SDK models."""

from openai.types.completion_usage import CompletionUsage

from otel_llm import usage


def test_openai_chat_prompt_already_includes_cached_tokens():
    wire = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 192, "accepted_prediction_tokens": 3},
    }
    for source in (wire, CompletionUsage.model_validate(wire)):
        result = usage.from_openai_chat(source)
        assert (result.input_tokens, result.output_tokens) == (1200, 300)
        assert (result.cache_read_tokens, result.reasoning_tokens) == (1024, 192)
        assert result.cache_write_tokens is None
        assert result.details == {"audio_input": 0, "accepted_prediction": 3}
        assert result.total_tokens == 1500


def test_openai_chat_without_details_leaves_unknowns_none():
    result = usage.from_openai_chat({"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5})
    assert result.output_tokens == 0  # the provider said 0
    assert result.cache_read_tokens is None and result.reasoning_tokens is None


def test_openai_responses_usage():
    result = usage.from_openai_responses(
        {
            "input_tokens": 900,
            "input_tokens_details": {
                "cached_tokens": 512,
                "cache_write_tokens": 100,
                "cache_write_tokens_details": {"ttl_30m_tokens": 60, "ttl_12h_tokens": 40},
            },
            "output_tokens": 50,
            "output_tokens_details": {"reasoning_tokens": 20},
            "total_tokens": 950,
        }
    )
    assert (result.input_tokens, result.cache_read_tokens, result.cache_write_tokens) == (900, 512, 100)
    assert (result.output_tokens, result.reasoning_tokens) == (50, 20)
    assert result.details == {"cache_write_30m": 60, "cache_write_12h": 40}


def test_openai_embeddings_have_input_only():
    result = usage.from_openai_embeddings({"prompt_tokens": 8, "total_tokens": 8})
    assert (result.input_tokens, result.output_tokens) == (8, 0)


def test_anthropic_input_adds_cache_reads_and_writes():
    result = usage.from_anthropic(
        {
            "input_tokens": 100,
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 1500,
            "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 500},
            "output_tokens": 400,
            "output_tokens_details": {"thinking_tokens": 250},
            "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
        }
    )
    assert result.input_tokens == 3600
    assert (result.cache_read_tokens, result.cache_write_tokens) == (2000, 1500)
    assert (result.output_tokens, result.reasoning_tokens) == (400, 250)
    assert result.details == {
        "cache_write_5m": 1000,
        "cache_write_1h": 500,
        "web_search_requests": 2,
        "web_fetch_requests": 0,
    }


def test_anthropic_without_cache_fields_keeps_them_unknown():
    result = usage.from_anthropic({"input_tokens": 10, "output_tokens": 3})
    assert result.input_tokens == 10
    assert result.cache_read_tokens is None and result.cache_write_tokens is None


def test_anthropic_stream_later_delta_wins():
    start = {"input_tokens": 100, "cache_read_input_tokens": 50, "output_tokens": 1}
    delta = {"output_tokens": 42, "input_tokens": 100}
    result = usage.merge_anthropic_stream(start, delta)
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (150, 50, 42)


def test_non_numbers_are_not_counts():
    result = usage.from_openai_chat({"prompt_tokens": True, "completion_tokens": "7"})
    assert result.input_tokens is None and result.output_tokens is None
    assert usage.from_openai_chat(None).total_tokens is None
