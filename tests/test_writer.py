import datetime
import os
import time
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_llm.storage import codec, open_store, open_writer, schema, values
from otel_llm.storage.columns import COLUMN_NAMES, COLUMNS
from tests.rows import make_row

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
T0 = 1_763_000_000_123_456_000  # ns; microsecond-exact so it survives DateTime64(6)


def edge_rows() -> list[dict]:
    """One row with every nullable column NULL and one with every one 0, plus non-ASCII text."""
    nulls = make_row(1, run="edge")
    zeros = make_row(2, run="edge")
    for name in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_input_tokens",
                 "cache_write_tokens", "reasoning_tokens", "ttft_ms", "http_status_code", "cost_usd"):  # fmt: skip
        nulls[name] = None
        zeros[name] = {"cost_usd": Decimal("0"), "ttft_ms": 0.0}.get(name, 0)
    for row in (nulls, zeros):
        row["timestamp"], row["end_timestamp"] = T0, T0 + 2_000
    zeros.update(agent_tags=[], usage_details={}, cost_details={}, span_attributes={}, is_byok=False)
    nulls.update(
        agent_tags=["a", "b"],
        cost_details={"input": Decimal("0.000000001"), "output": Decimal("123456789.123456789")},
        error_message="ünïcødé ✓ \"quotes\" \\ \n newline",
        is_error=True,
    )
    return [nulls, zeros]


def read_rows(url: str) -> dict:
    store = open_store(url)
    try:
        names, rows = store.query(f"SELECT {', '.join(COLUMN_NAMES)} FROM llm_traces FINAL")
    finally:
        store.close()
    return {row[0]: dict(zip(names, row)) for row in rows}


def assert_round_trip(sent: list[dict], got: dict) -> None:
    assert len(got) == len(sent)
    for row in sent:
        back = got[row["id"]]
        for name in COLUMN_NAMES:
            value = back[name]
            if name in ("timestamp", "end_timestamp"):
                value = (value - EPOCH) // datetime.timedelta(microseconds=1) * 1000
            assert value == row[name], name
            assert type(value) is type(row[name]), name


@pytest.mark.parametrize(
    "remote, remote_arrow", [(False, False), (True, False), (True, True)], ids=["chdb", "http", "http-arrow"]
)
def test_round_trip_every_type(remote, remote_arrow, chdb_url, request):
    url = request.getfixturevalue("clickhouse_http").url if remote else chdb_url
    writer = open_writer(url, remote_arrow=remote_arrow)  # Arrow: how the receiver sends its rows
    rows = edge_rows()
    writer.submit(rows)
    assert writer.shutdown(30)
    # The embedded store's rows are inserted by its store process: this one spools them.
    assert writer.stats["written" if remote else "spooled"] == 2 and writer.stats["dropped"] == 0
    got = read_rows(url)
    assert_round_trip(rows, got)
    nulls, zeros = (got[r["id"]] for r in rows)
    assert nulls["cache_write_tokens"] is None and zeros["cache_write_tokens"] == 0
    assert nulls["cost_usd"] is None and zeros["cost_usd"] == Decimal("0")


def test_rows_sharing_one_resource_map_and_rows_with_bytes_ids(chdb_url):
    # The exporter's rows: one resource_attributes dict shared by all, ids as 16 bytes.
    shared = {"host.name": "h1", "deployment.environment": "prod"}
    rows = [make_row(i, run="shared") for i in range(3)]
    for row in rows:
        row["resource_attributes"] = shared
        row["id"] = row["id"].bytes
    writer = open_writer(chdb_url)
    writer.submit(rows)
    assert writer.shutdown(30)
    got = read_rows(chdb_url)
    assert sorted(got) == sorted(uuid.UUID(bytes=row["id"]) for row in rows)
    assert [row["resource_attributes"] for row in got.values()] == [shared] * 3


def test_missing_keys_take_column_defaults(chdb_url):
    writer = open_writer(chdb_url)
    writer.submit([{"id": uuid.uuid4(), "timestamp": T0, "end_timestamp": T0, "provider": "openai"}])
    assert writer.shutdown(30)
    [row] = read_rows(chdb_url).values()
    assert (row["provider"], row["request_json"], row["prompt_tokens"], row["usage_details"]) == ("openai", "", None, {})


def insert_as_spooled(url: str, batch: pa.RecordBatch) -> None:
    """``batch`` inserted as a spool file holds it: one IPC stream of its own schema."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as stream:
        stream.write_batch(batch)
    store = open_store(url)
    try:
        schema.apply(store)
        store.insert_arrow(sink.getvalue())
    finally:
        store.close()


def test_batch_encoded_without_newer_columns_still_inserts(chdb_url):
    # A spool file written before a column existed: the columns it has are matched by name.
    row = make_row(1, run="old-spool")
    batch = codec.record_batch([row])
    kept = [name for name in batch.schema.names if name not in ("cost_details", "agent_tags")][::-1]
    insert_as_spooled(chdb_url, batch.select(kept))
    [back] = read_rows(chdb_url).values()
    assert (back["id"], back["run_id"], back["cost_details"], back["agent_tags"]) == (row["id"], row["run_id"], {}, [])
    assert back["request_json"] == row["request_json"] and back["prompt_tokens"] == row["prompt_tokens"]


def test_the_engine_reads_batch_columns_as_nullable_only_where_the_table_is(tmp_path):
    # A nullable Arrow field reads as Nullable(T), which the insert converts to the table's T by
    # copying the column: a 10 MB payload took 10 MB more of the engine's memory.
    from otel_llm.storage.chdb_store import ChdbStore

    otel_llm_described = codec.record_batch([make_row(1)])  # noqa: F841 - Python() finds it by name
    store = ChdbStore(tmp_path / "engine")  # in this process: Python() reads this process's objects
    try:
        _, described = store.query("DESCRIBE TABLE Python(otel_llm_described)")
    finally:
        store.close()
    read_as = {name: typ for name, typ, *_ in described}
    assert set(read_as) == set(COLUMN_NAMES)
    assert {name: typ for name, typ in read_as.items() if "Nullable" in typ} == {
        name: read_as[name] for name, ch_type in COLUMNS if "Nullable" in ch_type
    }


def test_batch_with_nullable_fields_as_older_writers_made_them_still_inserts(chdb_url):
    # Spool files written before the codec's fields stated their nullability.
    row = make_row(1, run="old-nullable-spool")
    batch = codec.record_batch([row])
    nullable = pa.schema([pa.field(name, _all_nullable(field.type)) for name, field in zip(batch.schema.names, batch.schema)])
    insert_as_spooled(chdb_url, pa.RecordBatch.from_arrays([c.cast(f.type) for c, f in zip(batch.columns, nullable)], schema=nullable))
    [back] = read_rows(chdb_url).values()
    assert (back["id"], back["run_id"], back["agent_tags"], back["cost_details"]) == (
        row["id"], row["run_id"], list(row["agent_tags"]), row["cost_details"]
    )
    assert back["request_json"] == row["request_json"] and back["prompt_tokens"] == row["prompt_tokens"]


def _all_nullable(typ: pa.DataType) -> pa.DataType:
    if pa.types.is_list(typ):
        return pa.list_(typ.value_type)
    if pa.types.is_map(typ):
        return pa.map_(typ.key_type, typ.item_type)
    return typ


def test_rows_with_large_payloads_among_small_ones_are_stored_intact(chdb_url):
    # Large payloads are read by the engine from the str's own bytes (codec.chunks encodes
    # their rows alone); 70 rows, so the submit encodes them itself.
    large = codec.LARGE_TEXT_CHARS
    rows = [make_row(i, run="large") for i in range(70)]
    rows[3]["request_json"] = '{"content":"' + "x" * large + '"}'
    rows[40]["response_json"] = '{"content":"' + "é✓" * (large // 2) + '"}'
    for row in rows:
        row["request_bytes"], row["response_bytes"] = (len(row[k].encode()) for k in ("request_json", "response_json"))
    writer = open_writer(chdb_url)
    writer.submit([values.as_row(row) for row in rows])
    assert writer.shutdown(60)
    got = read_rows(chdb_url)
    assert len(got) == 70
    for row in rows:
        back = got[row["id"]]
        assert (back["request_json"], back["response_json"]) == (row["request_json"], row["response_json"])


@pytest.mark.parametrize("remote_arrow", [False, True], ids=["json", "arrow"])
def test_store_down_rows_spooled_then_replayed_once(clickhouse_http, remote_arrow):
    url = clickhouse_http.url
    writer = open_writer(url, batch_rows=100, remote_arrow=remote_arrow)
    before = [make_row(i, run="down") for i in range(150)]
    writer.submit(before)
    assert writer.force_flush(30)
    assert writer.stats["written"] == 150

    clickhouse_http.stop()
    during = [make_row(i, run="down") for i in range(150, 600)]
    for start in range(0, len(during), 50):
        writer.submit(during[start : start + 50])
    assert writer.force_flush(60)  # handed to the spool, durably
    assert writer.stats["spooled"] == 450 and writer.stats["dropped"] == 0

    clickhouse_http.start()  # same port, same data
    writer.submit([make_row(600, run="down")])
    assert writer.shutdown(60)
    stats = writer.stats
    # The last row is spooled too if it arrives while the writer still backs off; either way it lands.
    assert (stats["written"], stats["dropped"], stats["queued"]) == (601, 0, 0) and stats["spooled"] in (450, 451)

    store = open_store(url)
    try:
        # Plain count(), no FINAL: replayed batches must not have created duplicates.
        assert store.query("SELECT count(), uniqExact(id) FROM llm_traces")[1] == [(601, 601)]
    finally:
        store.close()


def test_a_remote_insert_streams_its_batch_without_copying_it(clickhouse_http):
    import tracemalloc

    from otel_llm.storage.config import parse_url
    from otel_llm.storage.http_store import HttpStore

    row = make_row(1, run="remote-large")
    row["request_json"] = '{"content":"' + "".join(f"{i:08x}" for i in range(1_300_000)) + '"}'  # ~10 MB
    payload = codec.write_stream([codec.record_batch([values.as_row(row)])], "lz4")
    store = HttpStore(parse_url(clickhouse_http.url))
    try:
        schema.apply(store)
        tracemalloc.start()
        store.insert_arrow(payload)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        [(stored,)] = store.query("SELECT request_json FROM llm_traces")[1]
    finally:
        store.close()
    assert stored == row["request_json"]
    # Handed over as bytes, the body was copied twice over (~20 MB of Python objects).
    assert peak < 2 * 1024 * 1024, peak


def _as_user(url: str, user: str) -> str:
    return url.replace("//default:@", f"//{user}:secret@", 1)


def test_a_user_without_ddl_rights_writes_once_the_schema_is_current(clickhouse_http):
    from tests.clickhouse_http import NO_DDL_USER

    admin = open_store(clickhouse_http.url)
    try:
        schema.apply(admin)  # what `otel-llm init-db` does, as an admin
    finally:
        admin.close()
    writer = open_writer(_as_user(clickhouse_http.url, NO_DDL_USER))
    writer.submit([make_row(i, run="no-ddl") for i in range(100)])
    assert writer.shutdown(30)
    assert (writer.stats["written"], writer.stats["dropped"]) == (100, 0)


def test_a_user_without_ddl_rights_still_inserts_when_a_migration_is_pending(clickhouse_http, caplog):
    from tests.clickhouse_http import NO_DDL_USER

    admin = open_store(clickhouse_http.url)
    try:
        schema.apply(admin)
        admin.command("ALTER TABLE schema_migrations DELETE WHERE version = 2 SETTINGS mutations_sync = 1")
    finally:
        admin.close()
    writer = open_writer(_as_user(clickhouse_http.url, NO_DDL_USER))
    writer.submit([make_row(i, run="no-ddl-pending") for i in range(100)])
    assert writer.shutdown(30)
    assert (writer.stats["written"], writer.stats["dropped"]) == (100, 0)
    [message] = [r.getMessage() for r in caplog.records if "current schema" in r.getMessage()]
    assert "otel-llm init-db" in message and "secret" not in message and "QUERY_IS_PROHIBITED" in message


def test_full_queue_spills_to_disk_not_dropped(chdb_url):
    writer = open_writer(chdb_url, batch_rows=50, max_queue_rows=100, flush_interval_s=5)
    rows = [make_row(i, run="spill") for i in range(1000)]
    for start in range(0, 1000, 40):
        writer.submit(rows[start : start + 40])
    assert writer.shutdown(60)
    assert writer.stats["spooled"] > 0 and writer.stats["dropped"] == 0
    assert len(read_rows(chdb_url)) == 1000


def test_unwritable_spool_drops_and_counts(tmp_path, caplog):
    # A remote store that is down and a spool directory that cannot be created: the rows are lost,
    # and the writer says so.
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "spool").write_text("not a directory")
    writer = open_writer("http://127.0.0.1:9/default")
    writer.submit([make_row(i, run="drop") for i in range(10)])
    assert writer.force_flush(30)
    writer.shutdown(5)
    assert writer.stats["dropped"] == 10 and writer.stats["written"] == 0
    assert "dropping them" in caplog.text


def test_outcomes_are_exported_as_metrics(chdb_url):
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    writer = open_writer(chdb_url)
    writer.submit([make_row(i, run="metrics") for i in range(7)])
    assert writer.shutdown(30)
    points = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "otel_llm.writer.rows":
                    points = {p.attributes["outcome"]: p.value for p in metric.data.data_points}
    assert set(points) == {"written", "spooled", "dropped"}
    assert points["spooled"] >= 7  # the embedded store's store process inserts them


def test_temporary_file_of_a_killed_writer_is_swept_once_old(tmp_path):
    from otel_llm.storage.spool import ORPHAN_AGE_S, Spool

    spool = Spool(tmp_path)
    spool.put(b"batch", 1, "0" * 32)
    stale = tmp_path / ".tmp-00000000000000000001-999999-" f"{'a' * 32}-5.arrow"
    fresh = tmp_path / ".tmp-00000000000000000002-999999-" f"{'b' * 32}-5.arrow"
    stale.write_bytes(b"half a batch")
    fresh.write_bytes(b"a batch being written")
    old = time.time() - ORPHAN_AGE_S - 60
    os.utime(stale, (old, old))

    assert [item.rows for item in spool.pending()] == [1]  # temporary files are never batches
    assert not stale.exists()
    assert fresh.exists()  # may belong to a writer still at work


def test_batch_the_server_refuses_is_kept_in_rejected(clickhouse_http, tmp_path):
    url = clickhouse_http.url
    admin = open_store(url)
    writer = open_writer(url, batch_rows=10)
    try:
        writer.submit([make_row(0, run="refused")])
        assert writer.force_flush(30) and writer.stats["written"] == 1
        # The table no longer matches our rows: the server answers, and refuses the batch.
        admin.command("ALTER TABLE llm_traces DROP COLUMN span_name")
        admin.command("ALTER TABLE llm_traces ADD COLUMN span_name UInt8")
        writer.submit([make_row(i, run="refused") for i in range(1, 6)])
        assert writer.force_flush(30)
    finally:
        writer.shutdown(30)
        admin.command("ALTER TABLE llm_traces DROP COLUMN span_name")
        admin.command("ALTER TABLE llm_traces ADD COLUMN span_name String AFTER trace_id")
    assert (writer.stats["written"], writer.stats["dropped"], writer.stats["spooled"]) == (1, 5, 0)

    from otel_llm.storage.config import parse_url
    from otel_llm.storage.spool import Spool

    kept = Spool(parse_url(url).spool_dir / "rejected").pending()
    assert [item.rows for item in kept] == [5]
    # Replayable once the table accepts it again.
    admin.insert_json(Spool.read(kept[0]), kept[0].token)
    assert admin.query("SELECT count() FROM llm_traces ")[1] == [(6,)]
    admin.close()


@pytest.mark.parametrize("bad", ["20k", "0", "-5", "1.5", "nan"])
def test_a_malformed_writer_setting_is_logged_and_the_default_used(chdb_url, monkeypatch, caplog, bad):
    # A typo in the environment must not stop the app's rows: the writer starts with its default.
    monkeypatch.setenv("OTEL_LLM_WRITER_BATCH_ROWS", bad)
    monkeypatch.setenv("OTEL_LLM_WRITER_FLUSH_INTERVAL_S", "soon")
    with caplog.at_level("WARNING", logger="otel_llm"):
        writer = open_writer(chdb_url)
    try:
        assert writer._batch_rows == 20000 and writer._interval == 1.0
        writer.submit([make_row(i, run="typo") for i in range(3)])
        assert writer.force_flush(30)
    finally:
        writer.shutdown(30)
    assert len(read_rows(chdb_url)) == 3
    messages = [record.getMessage() for record in caplog.records]
    assert f"otel-llm: OTEL_LLM_WRITER_BATCH_ROWS={bad!r} is not a whole number >= 1; using 20000" in messages
    assert "otel-llm: OTEL_LLM_WRITER_FLUSH_INTERVAL_S='soon' is not a number >= 0.001; using 1.0" in messages


def test_an_embedded_store_refusing_inserts_for_now_keeps_the_rows_until_it_takes_them(chdb_url):
    # TOO_MANY_PARTS, ClickHouse's "slow down", made to happen in the real engine: the table allows
    # one part a partition. Such a refusal, like a full disk, is not about the batch: the rows wait
    # in the spool and go in once the store takes them, where they used to be set aside as rejected.
    def admin(sql: str) -> list | None:
        store = open_store(chdb_url)
        try:
            return store.query(sql)[1] if sql.startswith("SELECT") else store.command(sql)
        finally:
            store.close()

    writer = open_writer(chdb_url, batch_rows=100, flush_interval_s=0.2)
    try:
        writer.submit([make_row(i, run="refused") for i in range(50)])
        assert writer.force_flush(30) and admin("SELECT count() FROM llm_traces") == [(50,)]
        admin("ALTER TABLE llm_traces MODIFY SETTING parts_to_throw_insert = 1, parts_to_delay_insert = 1")
        writer.submit([make_row(i, run="refused") for i in range(50, 150)])
        assert writer.force_flush(30)
        time.sleep(1.0)  # the writer retries the spool meanwhile, and is refused again
        assert (writer.stats["spooled"], writer.stats["dropped"]) == (150, 0)
        assert admin("SELECT count() FROM llm_traces") == [(50,)]
        admin("ALTER TABLE llm_traces MODIFY SETTING parts_to_throw_insert = 3000, parts_to_delay_insert = 1000")
    finally:
        assert writer.shutdown(60)
    assert writer.stats["dropped"] == 0
    assert admin("SELECT count(), uniqExact(id) FROM llm_traces") == [(150, 150)]


def test_a_user_without_ddl_rights_keeps_the_rows_until_init_db_ran(clickhouse_http, caplog):
    # The server refuses the insert (no llm_traces yet, and this user may not create it): not the
    # batch's fault, so the rows wait in the spool instead of being set aside as rejected.
    from tests.clickhouse_http import NO_DDL_USER

    writer = open_writer(_as_user(clickhouse_http.url, NO_DDL_USER), batch_rows=100, flush_interval_s=0.2)
    try:
        writer.submit([make_row(i, run="before-init") for i in range(100)])
        assert writer.force_flush(30)
        assert (writer.stats["written"], writer.stats["spooled"], writer.stats["dropped"]) == (0, 100, 0)
        admin = open_store(clickhouse_http.url)
        try:
            schema.apply(admin)  # `otel-llm init-db`, as an admin
        finally:
            admin.close()
    finally:
        assert writer.shutdown(60)
    assert (writer.stats["written"], writer.stats["dropped"]) == (100, 0)
    assert len(read_rows(clickhouse_http.url)) == 100
    assert "UNKNOWN_TABLE" in caplog.text and "rejected" not in caplog.text


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (516, True),  # AUTHENTICATION_FAILED
        (497, True),  # ACCESS_DENIED
        (243, True),  # NOT_ENOUGH_SPACE
        (60, True),  # UNKNOWN_TABLE (not created yet)
        (53, False),  # TYPE_MISMATCH
        (27, False),  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        (None, False),  # the store said something without a code
    ],
)
def test_which_refusals_keep_a_batch_for_a_retry(code, transient):
    from otel_llm.storage.errors import QueryError

    assert QueryError("refused", code).transient is transient


def test_a_remote_store_error_carries_the_code_the_client_read(clickhouse_http):
    from otel_llm.storage.config import parse_url
    from otel_llm.storage.errors import QueryError, StoreUnavailable
    from otel_llm.storage.http_store import HttpStore

    store = HttpStore(parse_url(clickhouse_http.url))
    try:
        with pytest.raises(QueryError) as error:
            store.query("SELECT * FROM no_such_table")
        assert (error.value.code, "UNKNOWN_TABLE" in str(error.value)) == (60, True)
        with pytest.raises(StoreUnavailable, match="UNKNOWN_TABLE"):  # not created yet: for a retry
            store.insert_json(b"")
    finally:
        store.close()


def test_the_embedded_engine_code_is_read_from_its_message():
    # chDB's exception has no code attribute; its message starts with the engine's "Code: N.".
    from otel_llm.storage.chdb_store import _engine_code

    assert _engine_code("Code: 60. DB::Exception: Unknown table expression identifier 'x'. (UNKNOWN_TABLE)") == 60
    assert _engine_code("the engine said something without a code") is None


def test_wrong_credentials_keep_the_rows_for_a_writer_with_the_right_ones(clickhouse_http, caplog):
    # Refused at connect: the rows wait in the server's spool, and the next writer for that server
    # (the app restarted with the password fixed) replays them.
    from tests.clickhouse_http import WRONG_PASSWORD

    wrong = open_writer(_as_user(clickhouse_http.url, "default").replace(":secret@", f":{WRONG_PASSWORD}@"))
    wrong.submit([make_row(i, run="wrong-password") for i in range(100)])
    assert wrong.shutdown(5)  # every row acknowledged: in the spool
    assert (wrong.stats["written"], wrong.stats["spooled"], wrong.stats["dropped"]) == (0, 100, 0)
    assert "AUTHENTICATION_FAILED" in caplog.text and WRONG_PASSWORD not in caplog.text

    right = open_writer(clickhouse_http.url)
    assert right.shutdown(30)
    assert (right.stats["written"], right.stats["dropped"]) == (100, 0)
    assert len(read_rows(clickhouse_http.url)) == 100


def test_the_spool_leaves_the_disk_its_last_free_space(tmp_path, monkeypatch, caplog):
    # A store away for long must not fill the app's disk: below the reserve, batches are refused
    # (dropped, counted, and logged with what to do), not written.
    monkeypatch.setenv("OTEL_LLM_SPOOL_MIN_FREE_BYTES", str(1 << 60))  # more than any disk has
    writer = open_writer("http://127.0.0.1:9/default")  # nothing listens: every batch is for the spool
    writer.submit([make_row(i, run="reserve") for i in range(10)])
    assert writer.shutdown(5)
    assert (writer.stats["spooled"], writer.stats["dropped"]) == (0, 10)
    assert "OTEL_LLM_SPOOL_MIN_FREE_BYTES" in caplog.text and "free some space" in caplog.text
    assert not list((tmp_path / "home").rglob("*.arrow"))

    monkeypatch.setenv("OTEL_LLM_SPOOL_MIN_FREE_BYTES", "0")
    writer = open_writer("http://127.0.0.1:9/default")
    writer.submit([make_row(i, run="reserve") for i in range(10)])
    assert writer.shutdown(5)
    assert (writer.stats["spooled"], writer.stats["dropped"]) == (10, 0)


def test_url_settings_reach_the_server_and_async_inserts_store_every_row_once(clickhouse_http):
    url = clickhouse_http.url + "?async_insert=1&max_block_size=1234"
    store = open_store(url)
    try:
        _, [(block_size, async_insert)] = store.query("SELECT getSetting('max_block_size'), getSetting('async_insert')")
    finally:
        store.close()
    assert (int(block_size), bool(async_insert)) == (1234, True)

    writer = open_writer(url, batch_rows=50)
    writer.submit([make_row(i, run="async") for i in range(200)])
    assert writer.shutdown(60)
    assert (writer.stats["written"], writer.stats["dropped"]) == (200, 0)

    # A batch re-sent with its token (a retry after a lost answer) is not stored twice.
    payload = codec.encode([make_row(i, run="async-again") for i in range(10)])
    store = open_store(url)
    try:
        store.insert_arrow(payload, "a" * 32)
        store.insert_arrow(payload, "a" * 32)
        assert store.query("SELECT count(), uniqExact(id) FROM llm_traces")[1] == [(210, 210)]
    finally:
        store.close()


def test_odd_values_cost_a_remote_batch_nothing(clickhouse_http):
    # The JSON a remote writer sends is refused whole by the server for one value its column cannot
    # hold: each value is coerced first, as the Arrow encoding does.
    url = clickhouse_http.url
    odd = make_row(1, run="odd")
    odd.update(
        prompt_tokens=2**70, completion_tokens="12", total_tokens=-3, cached_input_tokens=1.5,
        http_status_code=70000, latency_ms="slow", ttft_ms=float("nan"), cost_usd="not a number",
        error_message="bad \ud800 text", span_attributes={"n": 3, "key\udcff": "v"},
        usage_details='{"input_tokens": 7}', agent_tags=("x", 5), is_byok="true",
    )
    writer = open_writer(url)
    writer.submit([odd, make_row(2, run="odd")])
    assert writer.shutdown(30)
    assert (writer.stats["written"], writer.stats["dropped"]) == (2, 0)
    back = read_rows(url)[odd["id"]]
    assert (back["prompt_tokens"], back["completion_tokens"], back["total_tokens"], back["cached_input_tokens"]) == (
        None, 12, None, None,
    )
    assert (back["http_status_code"], back["latency_ms"], back["cost_usd"], back["is_byok"]) == (None, 0.0, None, True)
    assert back["error_message"] == "bad \ufffd text"
    assert back["span_attributes"] == {"n": "3", "key\ufffd": "v"}
    assert back["usage_details"] == {"input_tokens": 7} and back["agent_tags"] == ["x", "5"]
