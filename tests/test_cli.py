import csv
import io
import json
import subprocess
import sys

import pytest

from otel_llm.cli import main

SQL = "SELECT number AS n, toString(number) AS s, if(number = 1, NULL, number) AS maybe, map('k', number) AS m FROM numbers(3)"


@pytest.fixture
def url(chdb_url):
    assert main(["init-db", "--url", chdb_url]) == 0
    return chdb_url


def test_table_format(url, capsys):
    capsys.readouterr()
    assert main(["query", SQL, "--url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    cells = [[c.strip() for c in line.split(" | ")] for line in lines]
    assert cells[0] == ["n", "s", "maybe", "m"]
    assert set(lines[1]) <= {"-", "+"}
    assert cells[3] == ["1", "1", "NULL", "{\"k\": 1}"]
    assert lines[-1] == "(3 rows)"


def test_csv_format(url, capsys):
    capsys.readouterr()
    assert main(["query", SQL, "--url", url, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["n", "s", "maybe", "m"], ["0", "0", "0", '{"k": 0}'], ["1", "1", "", '{"k": 1}'], ["2", "2", "2", '{"k": 2}']]


def test_json_format(url, capsys):
    capsys.readouterr()
    assert main(["query", SQL, "--url", url, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[1] == {"n": 1, "s": "1", "maybe": None, "m": {"k": 1}}


def test_empty_result_keeps_header(url, capsys):
    capsys.readouterr()
    assert main(["query", "SELECT id, cost_usd FROM llm_traces", "--url", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split(" | ") == ["id", "cost_usd"] and out[-1] == "(0 rows)"


def test_sql_error_is_one_line_exit_1(url):
    done = subprocess.run([sys.executable, "-m", "otel_llm.cli", "query", "SELEC 1", "--url", url], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("otel-llm: ") and "SYNTAX_ERROR" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_url_exit_2(capsys):
    assert main(["query", "SELECT 1", "--url", "mysql://x/y"]) == 2
    err = capsys.readouterr().err
    assert "--url" in err and "chdb://PATH" in err and "https://user:password@host:port/database" in err


def test_bad_env_url_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("OTEL_LLM_CLICKHOUSE_URL", "clickhouse://x")
    assert main(["query", "SELECT 1"]) == 2
    assert "OTEL_LLM_CLICKHOUSE_URL" in capsys.readouterr().err


def test_unreachable_server_exit_1(capsys):
    assert main(["query", "SELECT 1", "--url", "http://127.0.0.1:9/default"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:9/default" in err


def test_query_over_http(clickhouse_http, capsys):
    assert main(["query", "SELECT 41 + 1 AS answer", "--url", clickhouse_http.url, "--format", "csv"]) == 0
    assert capsys.readouterr().out == "answer\n42\n"


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-c", "from importlib.metadata import entry_points; print([e.value for e in entry_points(group='console_scripts', name='otel-llm')])"], capture_output=True, text=True)  # fmt: skip
    assert "otel_llm.cli:main" in done.stdout


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_small_costs_print_in_fixed_point(url, capsys, fmt):
    # Decimal's str() writes a tenth of a micro-dollar as 1.00E-7; costs are read by people.
    capsys.readouterr()
    sql = "SELECT toDecimal64('0.0000001', 9) AS cost_usd, toDecimal64('12.5', 9) AS big"
    assert main(["query", sql, "--url", url, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "0.000000100" in out and "12.500000000" in out and "E-" not in out


def test_version_is_the_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"otel-llm {version('otel-llm')}"


@pytest.mark.parametrize(
    "command",
    [["stats"], ["query", "SELECT count() FROM llm_traces"], ["trace", "0123456789abcdef0123456789abcdef"]],
    ids=lambda c: c[0],
)
def test_a_store_without_llm_traces_says_what_to_do(chdb_url, capsys, command):
    capsys.readouterr()
    assert main([*command, "--url", chdb_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"otel-llm: no llm_traces table in {chdb_url} yet") and "otel-llm init-db" in err
    assert "DB::Exception" not in err and len(err.strip().splitlines()) == 1


def test_other_unknown_tables_keep_the_engines_message(url, capsys):
    capsys.readouterr()
    assert main(["query", "SELECT * FROM no_such_table", "--url", url]) == 1
    assert "no_such_table" in capsys.readouterr().err
