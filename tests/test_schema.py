from pathlib import Path

import pytest

from otel_llm.cli import main
from otel_llm.storage import open_store
from otel_llm.storage.columns import COLUMNS
from otel_llm.storage.schema import Layout, apply, migrations, render_all


def test_init_db_twice_on_chdb(chdb_url, capsys):
    assert main(["init-db", "--url", chdb_url]) == 0
    first = capsys.readouterr().out
    assert "applied migration 1: create llm_traces" in first
    assert main(["init-db", "--url", chdb_url]) == 0
    assert "nothing to do" in capsys.readouterr().out
    store = open_store(chdb_url)
    try:
        assert store.query("SELECT version FROM schema_migrations ORDER BY version")[1] == [(1,), (2,), (3,), (4,)]
        assert store.query("SELECT count() FROM llm_traces")[1] == [(0,)]
    finally:
        store.close()


def test_a_store_made_at_version_1_is_migrated_and_inserts_compact_parts(chdb_url, capsys):
    store = open_store(chdb_url)
    try:
        layout = Layout()
        store.command(layout.migrations_table_ddl())
        for statement in migrations(layout)[0].statements:
            store.command(statement)
        # A table as version 1 made it, before service_tier and the inserted_at index existed.
        store.command("ALTER TABLE llm_traces DROP COLUMN service_tier")
        store.command("ALTER TABLE llm_traces DROP INDEX idx_inserted_at")
        store.command("INSERT INTO schema_migrations (version, name) VALUES (1, 'create llm_traces')")
        assert apply(store) == [
            "applied migration 2: 0002_compact_inserted_parts",
            "applied migration 3: 0003_service_tier",
            "applied migration 4: 0004_inserted_at_index",
        ]
        columns = [name for name, _ in store.query("SELECT name, type FROM system.columns WHERE table = 'llm_traces'")[1]]
        assert columns[columns.index("pricing_version") + 1] == "service_tier"
        _, [(ddl,)] = store.query("SHOW CREATE TABLE llm_traces")
        assert "min_bytes_for_wide_part = 268435456" in ddl
        assert "INDEX idx_inserted_at inserted_at TYPE minmax GRANULARITY 1" in ddl
        store.command("INSERT INTO llm_traces (id, provider) VALUES (generateUUIDv4(), 'openai')")
        assert store.query("SELECT part_type FROM system.parts WHERE table = 'llm_traces' AND active")[1] == [("Compact",)]
    finally:
        store.close()


def test_init_db_twice_over_http(clickhouse_http, capsys):
    assert main(["init-db", "--url", clickhouse_http.url]) == 0
    assert "applied migration 1" in capsys.readouterr().out
    assert main(["init-db", "--url", clickhouse_http.url]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_column_list_matches_the_table(chdb_url):
    """The writer's static column list (used where the table cannot be read) is the DDL's."""
    assert main(["init-db", "--url", chdb_url]) == 0
    store = open_store(chdb_url)
    try:
        _, rows = store.query("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'llm_traces' ORDER BY position")
    finally:
        store.close()
    assert [(name, type_) for name, type_ in rows if name != "inserted_at"] == list(COLUMNS)


def test_ttl_from_env(chdb_url, monkeypatch, capsys):
    monkeypatch.setenv("OTEL_LLM_TTL_DAYS", "30")
    assert main(["init-db", "--url", chdb_url]) == 0
    store = open_store(chdb_url)
    try:
        _, [(ddl,)] = store.query("SHOW CREATE TABLE llm_traces")
    finally:
        store.close()
    assert "TTL toDateTime(timestamp) + toIntervalDay(30)" in ddl


def _create_table_ddl(url: str) -> str:
    store = open_store(url)
    try:
        return store.query("SHOW CREATE TABLE llm_traces")[1][0][0]
    finally:
        store.close()


def test_ttl_set_or_changed_after_the_table_exists_is_applied_by_init_db(chdb_url, monkeypatch, capsys):
    assert main(["init-db", "--url", chdb_url]) == 0
    assert "TTL" not in _create_table_ddl(chdb_url)
    capsys.readouterr()

    monkeypatch.setenv("OTEL_LLM_TTL_DAYS", "30")
    assert main(["init-db", "--url", chdb_url]) == 0
    assert "set the TTL of llm_traces to 30 days (was none)" in capsys.readouterr().out
    assert "TTL toDateTime(timestamp) + toIntervalDay(30)" in _create_table_ddl(chdb_url)

    monkeypatch.setenv("OTEL_LLM_TTL_DAYS", "7")
    assert main(["init-db", "--url", chdb_url]) == 0
    assert "to 7 days (was 30 days)" in capsys.readouterr().out
    assert main(["init-db", "--url", chdb_url]) == 0
    assert "up to date (nothing to do)" in capsys.readouterr().out
    assert "toIntervalDay(7)" in _create_table_ddl(chdb_url)

    monkeypatch.delenv("OTEL_LLM_TTL_DAYS")  # unset: the TTL stays as it is
    assert main(["init-db", "--url", chdb_url]) == 0
    assert "toIntervalDay(7)" in _create_table_ddl(chdb_url)


def test_bad_ttl_is_a_config_error(chdb_url, monkeypatch, capsys):
    monkeypatch.setenv("OTEL_LLM_TTL_DAYS", "a month")
    assert main(["init-db", "--url", chdb_url]) == 2
    assert "OTEL_LLM_TTL_DAYS" in capsys.readouterr().err


def test_cluster_ddl():
    statements = render_all(Layout(database="obs", cluster="prod_cluster", ttl_days=90))
    text = "\n".join(statements)
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS `obs` ON CLUSTER `prod_cluster`"
    assert "CREATE TABLE IF NOT EXISTS `obs`.schema_migrations ON CLUSTER `prod_cluster`" in text
    assert "ReplicatedReplacingMergeTree('/clickhouse/otel_llm/obs/schema_migrations', '{replica}', applied_at)" in text
    assert "CREATE TABLE IF NOT EXISTS `obs`.llm_traces_local ON CLUSTER `prod_cluster`" in text
    assert "ENGINE = ReplicatedReplacingMergeTree(inserted_at)" in text
    assert "TTL toDateTime(timestamp) + INTERVAL 90 DAY" in text
    assert (
        "CREATE TABLE IF NOT EXISTS `obs`.llm_traces ON CLUSTER `prod_cluster`\n"
        "AS `obs`.llm_traces_local\n"
        "ENGINE = Distributed(`prod_cluster`, `obs`, llm_traces_local, cityHash64(trace_id))"
    ) in statements
    # Table settings belong to the shards' tables, not to the Distributed one.
    assert any("ALTER TABLE `obs`.llm_traces_local ON CLUSTER `prod_cluster` MODIFY SETTING" in s for s in statements)
    # Indexes belong to the shards' tables.
    assert "ALTER TABLE `obs`.llm_traces_local ON CLUSTER `prod_cluster` ADD INDEX IF NOT EXISTS idx_inserted_at" in text
    assert "ALTER TABLE `obs`.llm_traces ON CLUSTER `prod_cluster` ADD INDEX" not in text
    # A new column goes to the shards' tables and to the Distributed one over them.
    for table in ("llm_traces_local", "llm_traces"):
        assert (
            f"ALTER TABLE `obs`.{table} ON CLUSTER `prod_cluster` ADD COLUMN IF NOT EXISTS service_tier"
            " LowCardinality(String) AFTER pricing_version"
        ) in text


def test_single_node_ddl_has_no_cluster_bits():
    lines = "\n".join(render_all(Layout())).splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    assert "ON CLUSTER" not in text and "Distributed" not in text and "_local" not in text
    assert "ENGINE = ReplacingMergeTree(inserted_at)" in text
    assert "TTL" not in text


def test_cli_prints_cluster_ddl(capsys):
    assert main(["init-db", "--print", "--cluster", "c1"]) == 0
    assert "Distributed(`c1`" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["prod-cluster", "x;DROP TABLE y", "`c`"])
def test_identifiers_are_checked(bad, capsys):
    assert main(["init-db", "--print", "--cluster", bad]) == 2
    assert "not a valid identifier" in capsys.readouterr().err


@pytest.mark.parametrize(
    "shipped, extra_args",
    [("single-server.sql", []), ("cluster.sql", ["--cluster", "my_cluster"])],
)
def test_shipped_ddl_matches_init_db(shipped, extra_args, capsys):
    """exporters/clickhouse/ holds the DDL init-db applies; regenerate it when the schema changes:
    otel-llm init-db --print [--cluster my_cluster] --url http://default:@clickhouse:8123/otel"""
    assert main(["init-db", "--print", "--url", "http://default:@clickhouse:8123/otel", *extra_args]) == 0
    path = Path(__file__).parent.parent / "exporters" / "clickhouse" / shipped
    assert path.read_text() == capsys.readouterr().out
