"""The fixture itself: the real clickhouse-connect client must work against it unmodified."""

import uuid

import clickhouse_connect
import pytest


@pytest.fixture
def client_for(clickhouse_http):
    clients = []

    def make(**kwargs):
        client = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse_http.port, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.mark.parametrize("compress", [False, "lz4", "zstd", "gzip"])
def test_native_insert_several_blocks_and_query(client_for, compress):
    client = client_for(compress=compress)
    assert client.server_version.count(".") >= 2
    client.command("CREATE TABLE t (a UInt64, s String, u UUID, m Map(String, UInt64), n Nullable(UInt8)) ENGINE = MergeTree ORDER BY a")
    rows = [[i, "x" * 100, uuid.uuid4(), {"k": i}, None if i % 2 else i % 200] for i in range(30000)]
    # ~4 MB of Native data: clickhouse-connect cuts it into 1-2 MB blocks, streamed chunked.
    summary = client.insert("t", rows, column_names=["a", "s", "u", "m", "n"])
    assert summary.written_rows == 30000
    result = client.query("SELECT count(), sum(a), countIf(n IS NULL) FROM t WHERE a >= {low:UInt64}", parameters={"low": 10})
    assert result.result_rows == [(29990, sum(range(10, 30000)), 14995)]
    back = client.query("SELECT * FROM t WHERE a = 2").result_rows[0]
    assert back == tuple(rows[2])


def test_arrow_stream_raw_insert_with_dedup_token(client_for):
    import pyarrow as pa

    client = client_for()
    client.command("CREATE TABLE r (a UInt64) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 10")
    sink = pa.BufferOutputStream()
    table = pa.table({"a": pa.array([1, 2, 3], pa.uint64())})
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    for _ in range(2):
        client.raw_insert("r", ["a"], sink.getvalue().to_pybytes(), fmt="ArrowStream", settings={"insert_deduplication_token": "t1"})
    assert client.command("SELECT count() FROM r") == 3


def test_errors_carry_the_engine_message(client_for):
    from clickhouse_connect.driver.exceptions import DatabaseError

    client = client_for()
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE|Unknown table"):
        client.query("SELECT * FROM no_such_table")


def test_stop_and_start_on_the_same_port(clickhouse_http, client_for):
    from clickhouse_connect.driver.exceptions import OperationalError

    client = client_for()
    client.command("CREATE TABLE k (a UInt8) ENGINE = MergeTree ORDER BY a")
    client.command("INSERT INTO k VALUES (1)")
    port = clickhouse_http.port
    clickhouse_http.stop()
    with pytest.raises(OperationalError):
        client.command("SELECT 1")
    clickhouse_http.start()
    assert clickhouse_http.port == port
    assert client.command("SELECT count() FROM k") == 1
