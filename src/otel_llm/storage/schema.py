"""The ``llm_traces`` DDL and its versioned migrations.

Layouts (what ``otel-llm init-db`` creates):

- embedded chDB or a single server: ``{db}.llm_traces``, ``ReplacingMergeTree(inserted_at)``.
- cluster (``--cluster NAME``): every statement runs ``ON CLUSTER NAME``; the data lives in
  ``{db}.llm_traces_local`` (``ReplicatedReplacingMergeTree(inserted_at)``, replica path from the
  server's ``default_replica_path``) and ``{db}.llm_traces`` is a ``Distributed`` table over it,
  sharded by ``cityHash64(trace_id)`` so a trace and any re-sent copy of a row share a shard (the
  replacing merge only collapses duplicates within one shard). Readers and writers only ever name
  ``llm_traces``.

Migrations: version 1 is ``schema.sql``; later versions are ``migrations/NNNN_name.sql`` (same
placeholders, applied in version order). ``{db}.schema_migrations`` records the versions applied;
on a cluster it is replicated under one fixed ZooKeeper/Keeper path for all shards, so every node
sees the same history. ``apply`` is idempotent: it runs only versions not yet recorded, and every
statement is itself ``IF NOT EXISTS``-safe so a crash between DDL and record is harmless.

TTL: ``OTEL_LLM_TTL_DAYS`` (or ``ttl_days=``) adds ``TTL timestamp + N days``; unset keeps rows forever.
Set or changed once the table exists, ``otel-llm init-db`` applies it (``apply_ttl``: ``ALTER
TABLE ... MODIFY TTL``, which also drops the rows already past it); unsetting it changes nothing
(``ALTER TABLE llm_traces REMOVE TTL`` does).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources

from otel_llm.storage.errors import ConfigError, QueryError

TTL_ENV = "OTEL_LLM_TTL_DAYS"
TABLE = "llm_traces"
LOCAL_TABLE = "llm_traces_local"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_identifier(name: str, what: str) -> str:
    """Backtick-quote a database/cluster name after checking it is a plain identifier; DDL cannot
    take identifiers as query parameters everywhere, so this check is what keeps input out of SQL."""
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"{what} {name!r} is not a valid identifier (letters, digits, underscore)")
    return f"`{name}`"


def ttl_days_from_env() -> int | None:
    raw = os.environ.get(TTL_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise ConfigError(f"{TTL_ENV}={raw!r}: expected a positive whole number of days")
    return int(raw)


@dataclass(frozen=True)
class Layout:
    """Names and clauses that differ between a single node and a cluster."""

    database: str = "default"
    cluster: str | None = None
    ttl_days: int | None = None

    @property
    def db(self) -> str:
        return quote_identifier(self.database, "database")

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER {quote_identifier(self.cluster, 'cluster')}" if self.cluster else ""

    @property
    def data_table(self) -> str:
        return LOCAL_TABLE if self.cluster else TABLE

    def render(self, template: str) -> str:
        engine = "ReplicatedReplacingMergeTree(inserted_at)" if self.cluster else "ReplacingMergeTree(inserted_at)"
        ttl = f"TTL toDateTime(timestamp) + INTERVAL {int(self.ttl_days)} DAY" if self.ttl_days else ""
        return template.format(database=self.db, table=self.data_table, engine=engine, on_cluster=self.on_cluster, ttl=ttl)

    def migrations_table_ddl(self) -> str:
        if self.cluster:
            path = f"'/clickhouse/otel_llm/{self.database}/schema_migrations'"
            engine = f"ReplicatedReplacingMergeTree({path}, '{{replica}}', applied_at)"
        else:
            engine = "ReplacingMergeTree(applied_at)"
        return (
            f"CREATE TABLE IF NOT EXISTS {self.db}.schema_migrations {self.on_cluster}\n"
            "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))\n"
            f"ENGINE = {engine} ORDER BY version"
        )

    def distributed_ddl(self) -> str:
        cluster = quote_identifier(self.cluster, "cluster")
        return (
            f"CREATE TABLE IF NOT EXISTS {self.db}.{TABLE} {self.on_cluster}\n"
            f"AS {self.db}.{LOCAL_TABLE}\n"
            f"ENGINE = Distributed({cluster}, {self.db}, {LOCAL_TABLE}, cityHash64(trace_id))"
        )


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def _read(name: str) -> str:
    return resources.files("otel_llm.storage").joinpath(name).read_text()


def migrations(layout: Layout) -> list[Migration]:
    """All known migrations rendered for ``layout``, in version order."""
    create = [layout.render(_read("schema.sql")).strip()]
    if layout.cluster:
        create.append(layout.distributed_ddl())
    found = [Migration(1, "create llm_traces", tuple(create))]
    folder = resources.files("otel_llm.storage").joinpath("migrations")
    files = sorted(f.name for f in folder.iterdir() if f.name.endswith(".sql")) if folder.is_dir() else []
    for filename in files:
        version = int(filename.split("_", 1)[0])
        text = layout.render(folder.joinpath(filename).read_text())
        statements = tuple(s.strip() for s in text.split(";") if s.strip())
        found.append(Migration(version, filename[:-4], statements))
    versions = [m.version for m in found]
    if versions != sorted(set(versions)) or versions[0] != 1:
        raise RuntimeError(f"migration versions must be unique and start at 1, got {versions}")
    return found


def render_all(layout: Layout) -> list[str]:
    """Every statement ``apply`` may run for ``layout``, for printing (``init-db --print``) and tests."""
    head = [f"CREATE DATABASE IF NOT EXISTS {layout.db} {layout.on_cluster}".rstrip(), layout.migrations_table_ddl()]
    return head + [s for m in migrations(layout) for s in m.statements]


def apply(store, cluster: str | None = None, ttl_days: int | None = None) -> list[str]:
    """Bring ``store`` to the newest schema; returns one line per thing done (empty if up to date)."""
    layout = Layout(database=store.database, cluster=cluster, ttl_days=ttl_days if ttl_days else ttl_days_from_env())
    known = migrations(layout)
    # Read first: a schema that is current needs no DDL, so a user granted only SELECT and INSERT
    # (a common production setup; ClickHouse refuses even CREATE ... IF NOT EXISTS without the
    # grant) can write once an admin ran `otel-llm init-db`.
    try:
        if _applied_versions(store, layout) >= {m.version for m in known}:
            return []
    except QueryError:
        pass  # no schema_migrations yet: created below
    store.command(f"CREATE DATABASE IF NOT EXISTS {layout.db} {layout.on_cluster}")
    store.command(layout.migrations_table_ddl())
    applied = _applied_versions(store, layout)
    done = []
    for migration in known:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            store.command(statement)
        store.command(
            f"INSERT INTO {layout.db}.schema_migrations (version, name) VALUES ({{version:UInt32}}, {{name:String}})",
            {"version": migration.version, "name": migration.name},
        )
        done.append(f"applied migration {migration.version}: {migration.name}")
    return done


_TTL_DAYS = re.compile(r"\bTTL toDateTime\(timestamp\) \+ toIntervalDay\((\d+)\)")


def apply_ttl(store, cluster: str | None = None, ttl_days: int | None = None) -> list[str]:
    """Give an existing ``llm_traces`` the TTL asked for (``ttl_days`` or ``OTEL_LLM_TTL_DAYS``);
    returns one line if it changed it. No TTL asked for: nothing to do."""
    layout = Layout(database=store.database, cluster=cluster, ttl_days=ttl_days or ttl_days_from_env())
    if not layout.ttl_days:
        return []
    _, rows = store.query(
        "SELECT engine_full FROM system.tables WHERE database = {database:String} AND name = {table:String}",
        {"database": layout.database, "table": layout.data_table},
    )
    if not rows:
        return []
    current = _TTL_DAYS.search(rows[0][0])
    if current and int(current.group(1)) == layout.ttl_days:
        return []
    store.command(
        f"ALTER TABLE {layout.db}.{layout.data_table} {layout.on_cluster} "
        f"MODIFY TTL toDateTime(timestamp) + INTERVAL {int(layout.ttl_days)} DAY"
    )
    was = f"{current.group(1)} days" if current else "none"
    return [f"set the TTL of {layout.data_table} to {layout.ttl_days} days (was {was})"]


def _applied_versions(store, layout: Layout) -> set[int]:
    """Versions recorded in ``schema_migrations`` (QueryError when that table cannot be read)."""
    _, rows = store.query(f"SELECT version FROM {layout.db}.schema_migrations FINAL")
    return {row[0] for row in rows}
