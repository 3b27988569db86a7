-- A minmax index on inserted_at: after each insert the writer reads the rows inserted since, to
-- merge the spans of one call that arrived apart (otel_llm.storage.reconcile). With the index it
-- reads only the parts of the latest inserts. Fresh installs get it from schema.sql, which makes
-- the first statement a no-op. The second builds it for the parts written before (once, in the
-- background). On a cluster both alter the local tables (the Distributed table has no indexes).
ALTER TABLE {database}.{table} {on_cluster} ADD INDEX IF NOT EXISTS idx_inserted_at inserted_at TYPE minmax GRANULARITY 1;
ALTER TABLE {database}.{table} {on_cluster} MATERIALIZE INDEX idx_inserted_at
