from pathlib import Path

import pytest

from otel_llm.storage import ConfigError, parse_url


def test_default_is_embedded_under_home(isolated_home):
    config = parse_url()
    assert config.kind == "chdb"
    assert config.path == isolated_home / "chdb"
    assert config.spool_dir == isolated_home / "chdb.spool"


def test_env_url_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("OTEL_LLM_CLICKHOUSE_URL", f"chdb://{tmp_path}/x")
    assert parse_url().path == tmp_path / "x"


def test_http_url():
    config = parse_url("https://alice:s%40cret@ch.example.com:9443/analytics")
    assert (config.kind, config.host, config.port, config.secure) == ("http", "ch.example.com", 9443, True)
    assert (config.username, config.password, config.database) == ("alice", "s@cret", "analytics")
    assert "s%40cret" not in config.url and "***" in config.url


def test_http_defaults():
    config = parse_url("http://localhost")
    assert (config.port, config.username, config.database) == (8123, "default", "default")


@pytest.mark.parametrize(
    "url",
    ["ftp://host/db", "localhost:8123", "chdb://", "http://:8123/db", "http://h:port/db", "http://h:1/a/b", "chdb://x?mode=ro"],
)
def test_bad_urls_name_the_variable_and_the_forms(url, monkeypatch):
    monkeypatch.setenv("OTEL_LLM_CLICKHOUSE_URL", url)
    with pytest.raises(ConfigError) as info:
        parse_url()
    message = str(info.value)
    assert "OTEL_LLM_CLICKHOUSE_URL" in message
    assert "chdb://PATH" in message and "http://user:password@host:port/database" in message


def test_password_never_in_error():
    with pytest.raises(ConfigError) as info:
        parse_url("http://u:topsecret@h:notaport/db")
    assert "topsecret" not in str(info.value)
    assert "--url" in str(info.value)


def test_remote_spool_is_per_server(isolated_home):
    a, b = parse_url("http://h1:8123/db"), parse_url("http://h2:8123/db")
    assert a.spool_dir != b.spool_dir
    assert Path(isolated_home) in a.spool_dir.parents


@pytest.mark.parametrize(
    ("raw", "default", "minimum", "expected"),
    [
        (None, 7, 0, 7),
        ("  ", 7, 0, 7),
        (" 42 ", 7, 0, 42),
        ("0", 7, 0, 0),
        ("0", 7, 1, 7),
        ("4k", 7, 0, 7),
        ("2.5", 7, 0, 7),  # a whole-number setting takes no fraction
        ("2.5", 1.0, 0, 2.5),
        ("inf", 1.0, 0, float("inf")),
        ("nan", 1.0, 0, 1.0),
        ("-1", 1.0, 0, 1.0),
    ],
)
def test_env_number(raw, default, minimum, expected, monkeypatch):
    from otel_llm.settings import env_number

    if raw is None:
        monkeypatch.delenv("OTEL_LLM_TEST_NUMBER", raising=False)
    else:
        monkeypatch.setenv("OTEL_LLM_TEST_NUMBER", raw)
    value = env_number("OTEL_LLM_TEST_NUMBER", default, minimum)
    assert value == expected and type(value) is type(expected)


def test_clickhouse_settings_in_the_query_string():
    config = parse_url("http://h:8123/db?async_insert=1&max_insert_threads=4")
    assert config.settings == (("async_insert", "1"), ("max_insert_threads", "4"))
    assert parse_url("http://h/db").settings == ()


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("async_insert=1&wait_for_async_insert=0", "wait_for_async_insert=0"),
        ("a=1&a=2", "given twice"),
        ("bad-name=1", "not a ClickHouse setting name"),
        ("novalue", "setting=value"),
    ],
)
def test_bad_settings_in_the_query_string_are_config_errors(query, reason):
    with pytest.raises(ConfigError, match=reason):
        parse_url(f"http://h:8123/db?{query}")


@pytest.mark.parametrize(
    "url, encoding",
    [
        ("https://u:p@abc.clickhouse.cloud:8443/otel", "lz4"),  # remote: compressed by default
        ("http://127.0.0.1:8123/otel", ""),  # loopback: nothing to save on the wire
        ("http://localhost:8123/otel?compress=lz4", "lz4"),
        ("http://ch.internal:8123/otel?compress=none&async_insert=1", ""),
    ],
)
def test_insert_compression(url, encoding):
    config = parse_url(url)
    assert config.insert_encoding == encoding
    assert "compress" not in dict(config.settings)  # ours, not a ClickHouse setting


def test_bad_compression_is_a_config_error():
    with pytest.raises(ConfigError, match="compress='gzip'"):
        parse_url("http://ch.internal:8123/otel?compress=gzip")
