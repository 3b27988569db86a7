"""Hostile and broken input: OTLP bodies the existing fuzzing does not produce, and the CLI given
garbage flags, URLs and files. Clear one-line errors, exit codes 1/2, no traceback, no partial rows."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from urllib.parse import quote

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.trace import SpanKind

from otel_llm.storage import open_writer
from tests.receiver.conftest import RowSink, Running, start
from tests.rows import count_rows, make_row

USAGE = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}


@pytest.fixture(scope="module")
def receiver():
    sink = RowSink()
    running = start(sink)
    yield Running(running, sink)
    running.stop()


def body(attributes: dict, *, limits: SpanLimits | None = None) -> bytes:
    provider = TracerProvider(resource=Resource.create({"service.name": "hostile"}), span_limits=limits)
    span = provider.get_tracer("t").start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=attributes)
    span.end()
    return encode_spans([span]).SerializeToString()


def one_row(receiver: Running, payload: bytes) -> dict:
    before = len(receiver.sink.rows)
    status, _, answer = receiver.post(payload)
    assert status == 200, answer
    rows = receiver.sink.rows[before:]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, 1e300, 2**63 - 1, -(2**63), 0.5])
def test_odd_numbers_in_usage_fields_become_null_not_errors(receiver, value):
    attributes = {**USAGE, "gen_ai.usage.input_tokens": value, "gen_ai.usage.output_tokens": value,
                  "gen_ai.usage.cache_read.input_tokens": value, "gen_ai.response.time_to_first_chunk": 0.1,
                  "otel_llm.cost.usd": str(value), "http.response.status_code": value}
    row = one_row(receiver, body(attributes))
    expected = value if isinstance(value, int) and 0 <= value < 2**64 else None
    assert row["prompt_tokens"] == expected and row["completion_tokens"] == expected
    assert row["http_status_code"] is None
    assert row["cost_usd"] is None or row["cost_usd"].is_finite()


@pytest.mark.parametrize("details", ["not json", "[1, 2]", '{"input": "NaN", "output": {}}', "null"])
def test_malformed_cost_details_keep_the_row(receiver, details):
    row = one_row(receiver, body({**USAGE, "otel_llm.cost.usd": "0.5", "otel_llm.cost.details": details,
                                  "otel_llm.usage.details": details}))
    assert str(row["cost_usd"]) == "0.500000000"
    assert row["cost_details"] == {} and row["usage_details"] == {}


def test_ten_thousand_attributes_are_one_complete_row(receiver):
    many = {**USAGE, **{f"custom.attr.{i}": f"v{i}" for i in range(10_000)}}
    row = one_row(receiver, body(many, limits=SpanLimits(max_span_attributes=20_000)))
    assert len(row["span_attributes"]) == 10_000 and row["span_attributes"]["custom.attr.9999"] == "v9999"


def test_invalid_utf8_in_a_protobuf_string_is_400_and_writes_nothing(receiver):
    valid = body({**USAGE, "gen_ai.input.messages": "MARKER-abcdef"})
    broken = valid.replace(b"MARKER-abcdef", b"MARKER-\xff\xfe\xc3(")  # same length, not UTF-8
    before = len(receiver.sink.rows)
    status, _, _ = receiver.post(broken)
    assert status == 400 and len(receiver.sink.rows) == before


def test_lone_surrogates_in_otlp_json_are_400(receiver):
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174", "name": "\\ud800", "attributes": []}]}]}]}
    text = json.dumps(document).replace("\\\\ud800", "\\ud800")
    before = len(receiver.sink.rows)
    status, _, _ = receiver.post(text.encode(), {"Content-Type": "application/json"})
    assert status == 400 and len(receiver.sink.rows) == before


def test_wrong_or_missing_token_is_401_on_http(receiver):
    for headers in ({"authorization": "Bearer wrong"}, {"authorization": ""}, {"authorization": "Basic dGVzdA=="}):
        before = len(receiver.sink.rows)
        status, _, _ = receiver.post(body(USAGE), headers)
        assert status == 401 and len(receiver.sink.rows) == before


# --- the CLI --------------------------------------------------------------------------------------


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``otel-llm`` in-process: (exit code, stderr, stdout). An exception escaping fails the test."""
    from otel_llm.cli import main

    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def one_line_error(code: int, err: str) -> bool:
    """argparse prints its usage, then the error; ours print only the error."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("report [")]  # progress
    return "Traceback" not in err and bool(lines) and lines[-1].startswith("otel-llm") and (code == 2 or len(lines) == 1)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> str:
    url = f"chdb://{tmp_path_factory.mktemp('cli')}/db"
    writer = open_writer(url)
    writer.submit([make_row(i, run="cli") for i in range(5)])
    assert writer.shutdown(30)
    return url


GARBAGE = [
    # (argv, expected exit code)
    (["stats", "--by", "model; DROP TABLE llm_traces"], 2),
    (["stats", "--by", "customer_id) FROM system.tables --"], 2),
    (["stats", "--since", "yesterday-ish"], 2),
    (["stats", "--since", "9999999999d"], 2),
    (["stats", "--since", "1d", "--until", "2d"], 2),
    (["stats", "--format", "xml"], 2),
    (["report", "--html", "/proc/definitely/not/writable.html"], 1),
    (["trace", "'; DROP TABLE llm_traces; --"], 1),
    (["trace", "00000000-0000-0000-0000-000000000000"], 1),
    (["query", "SELECT * FROM no_such_table"], 1),
    (["query", "SELECT {x:String}"], 1),
    (["init-db", "--cluster", "c`; DROP DATABASE default; --"], 2),
    (["serve", "--http-port", "70000"], 2),
    (["serve", "--http-port", "abc"], 2),
    (["serve", "--host", "0.0.0.0", "--token", ""], 2),
    (["serve", "--max-body-bytes", "-5"], 2),
    (["frobnicate"], 2),
    (["stats", "--no-such-flag"], 2),
]


@pytest.mark.parametrize(("argv", "code"), GARBAGE, ids=[" ".join(a) for a, _ in GARBAGE])
def test_cli_garbage_flags_are_one_line_errors(seeded, capsys, argv, code):
    got, err, _ = cli(capsys, *argv, "--url", seeded)
    assert got == code and one_line_error(got, err), err
    assert count_rows(seeded) == (5, 5)  # nothing dropped, nothing added


BAD_URLS = [
    ("postgres://host/db", 2),
    ("http://", 2),
    ("http://host:notaport/db", 2),
    ("http://127.0.0.1:9/default", 1),  # nothing listens there
    ("chdb://", 2),
    ("chdb:///dev/null/db", 1),  # a file where a directory must be
    ("just some words", 2),
]


@pytest.mark.parametrize(("url", "code"), BAD_URLS, ids=[u for u, _ in BAD_URLS])
@pytest.mark.parametrize("command", [["query", "SELECT 1"], ["stats"], ["init-db"], ["trace", "abc"]], ids=lambda c: c[0])
def test_cli_broken_urls_are_one_line_errors(capsys, monkeypatch, command, url, code):
    assert_one_line = lambda got, err, _: (got == code and one_line_error(got, err), (got, err))  # noqa: E731
    ok, detail = assert_one_line(*cli(capsys, *command, "--url", url))
    assert ok, detail
    monkeypatch.setenv("OTEL_LLM_CLICKHOUSE_URL", url)
    ok, detail = assert_one_line(*cli(capsys, *command))
    assert ok, detail


def test_cli_unreachable_server_prints_exactly_one_line():
    """Out of process, so nothing but the CLI decides what reaches stderr (no driver log lines)."""
    done = subprocess.run([sys.executable, "-m", "otel_llm.cli", "query", "SELECT 1", "--url", "http://127.0.0.1:9/default"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_hostile_database_names_cannot_inject(clickhouse_http, capsys):
    """A database name from the URL travels as an identifier parameter or is refused as one."""
    base = clickhouse_http.url.rsplit("/", 1)[0]
    assert cli(capsys, "init-db", "--url", clickhouse_http.url)[0] == 0
    hostile = quote("default.llm_traces; DROP TABLE default.llm_traces; --")
    for command in (["stats"], ["trace", "abc"], ["init-db"], ["query", "SELECT 1"]):
        code, err, _ = cli(capsys, *command, "--url", f"{base}/{hostile}")
        assert code in (1, 2) and one_line_error(code, err), err
    code, _, out = cli(capsys, "query", "EXISTS TABLE default.llm_traces", "--format", "csv", "--url", clickhouse_http.url)
    assert code == 0 and out.splitlines()[-1] == "1"
