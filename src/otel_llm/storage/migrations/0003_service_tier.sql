-- The tier a response was served and priced at (OpenAI service_tier: default, flex, priority,
-- scale. Anthropic usage.service_tier: standard, priority, batch), '' when the response did not
-- say. Fresh installs get it from schema.sql, which makes these no-ops. On a cluster the first
-- statement alters the local tables and the second the Distributed table over them. On a single
-- node both name llm_traces and the second does nothing.
ALTER TABLE {database}.{table} {on_cluster} ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) AFTER pricing_version;
ALTER TABLE {database}.llm_traces {on_cluster} ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) AFTER pricing_version
