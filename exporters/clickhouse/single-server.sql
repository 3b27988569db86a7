CREATE DATABASE IF NOT EXISTS `otel`;

CREATE TABLE IF NOT EXISTS `otel`.schema_migrations 
(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplacingMergeTree(applied_at) ORDER BY version;

-- llm_traces: one row per LLM call, denormalized so every dashboard query is a single-table scan.
-- A template: otel_llm.storage.schema fills in database, table, engine, ON CLUSTER and TTL, so the
-- same text serves embedded chDB, a single server and a cluster (where the table is the per-shard
-- llm_traces_local, Replicated, under a Distributed llm_traces).
CREATE TABLE IF NOT EXISTS `otel`.llm_traces 
(
    -- identity -------------------------------------------------------------------------------
    -- A UUID derived client-side from trace id + span id, so a retried insert carries the same
    -- id and ReplacingMergeTree collapses it.
    id                  UUID,
    timestamp           DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    end_timestamp       DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    trace_id            String,
    span_id             String,
    parent_span_id      String,
    span_name           String,
    service_name        LowCardinality(String),

    -- who the call belongs to ----------------------------------------------------------------
    organization_id     String,
    project_id          String,
    user_id             String,
    conversation_id     String,
    agent_id            String,
    agent_tags          Array(LowCardinality(String)),
    run_id              String,
    step_id             String,
    call_type           LowCardinality(String),
    billing_plan_type   LowCardinality(String),
    billing_cost_source LowCardinality(String),
    customer_id         String,
    is_byok             Bool,

    -- what was called ------------------------------------------------------------------------
    provider            LowCardinality(String),
    operation           LowCardinality(String),
    request_model       LowCardinality(String),
    response_model      LowCardinality(String),
    response_id         String,
    is_stream           Bool,
    finish_reason       LowCardinality(String),
    server_address      LowCardinality(String),

    -- tokens (canonical convention: prompt includes cache read+write, completion includes
    -- reasoning; NULL = the provider did not report it, 0 = it reported zero) --------------------
    prompt_tokens       Nullable(UInt64),
    completion_tokens   Nullable(UInt64),
    total_tokens        Nullable(UInt64),
    cached_input_tokens Nullable(UInt64),
    cache_write_tokens  Nullable(UInt64),
    reasoning_tokens    Nullable(UInt64),
    usage_details       Map(LowCardinality(String), UInt64),

    -- cost (NULL = no price known for the model; never 0 for "unknown") ------------------------
    cost_usd            Nullable(Decimal(18, 9)),
    cost_details        Map(LowCardinality(String), Decimal(18, 9)),
    pricing_version     LowCardinality(String),
    service_tier        LowCardinality(String),  -- the tier the response was served and priced at

    -- timing and outcome ---------------------------------------------------------------------
    latency_ms          Float64,
    ttft_ms             Nullable(Float64),
    is_error            Bool,
    error_type          LowCardinality(String),
    error_message       String,
    http_status_code    Nullable(UInt16),

    -- payloads (the whole request and response; ZSTD level 3 compresses chat JSON >10x) ----------
    request_bytes       UInt64,
    response_bytes      UInt64,
    payload_truncated   Bool,
    request_json        String CODEC(ZSTD(3)),
    response_json       String CODEC(ZSTD(3)),
    llm_config_json     String CODEC(ZSTD(3)),

    -- everything else the span and its resource carried ----------------------------------------
    span_attributes     Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3),

    -- Skip indexes for the point look-ups people make ("this trace", "this agent's run",
    -- "this customer") which the sort key cannot serve.
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_agent_id agent_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_run_id run_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_step_id step_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_customer_id customer_id TYPE bloom_filter(0.01) GRANULARITY 1,
    -- The rows of the latest inserts, which the writer reconciles with the rest of their calls
    -- (otel_llm.storage.reconcile): their parts are the only ones it reads.
    INDEX idx_inserted_at inserted_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(inserted_at)
-- Monthly partitions: TTL drops whole parts, and time-window queries prune partitions.
PARTITION BY toYYYYMM(timestamp)
-- Sort key: analytics filter by time window first and group by provider/model; id last makes
-- the key unique per logical row so ReplacingMergeTree(inserted_at) collapses retried inserts.
ORDER BY (toStartOfHour(timestamp), provider, request_model, timestamp, id)

-- The writer tags each batch with insert_deduplication_token, so a batch re-sent after a lost
-- acknowledgement (or a crash between insert and spool-file delete) is dropped at insert time;
-- replicated tables deduplicate by default, plain MergeTree only with this window.
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- Inserted parts stay Compact (all columns in one data file) below 256 MB uncompressed, instead
-- of ClickHouse's 10 MB default. A Wide part is two files per column, sub-column and index (249
-- for llm_traces), and creating them took more than half of chDB's CPU for a 20,000-row batch of
-- 2 KB payloads (~54 MB uncompressed, 1.6 MB on disk): 26-29 -> 10-12 us a row. Merges still
-- write Wide parts once they reach the threshold, so large parts keep per-column files. Reads
-- cost a little more on Compact parts: over 200,000 rows in 10 unmerged parts, a group-by took
-- 17 -> 21 ms and a trace look-up 12 -> 16 ms.
ALTER TABLE `otel`.llm_traces  MODIFY SETTING min_bytes_for_wide_part = 268435456;

-- The tier a response was served and priced at (OpenAI service_tier: default, flex, priority,
-- scale. Anthropic usage.service_tier: standard, priority, batch), '' when the response did not
-- say. Fresh installs get it from schema.sql, which makes these no-ops. On a cluster the first
-- statement alters the local tables and the second the Distributed table over them. On a single
-- node both name llm_traces and the second does nothing.
ALTER TABLE `otel`.llm_traces  ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) AFTER pricing_version;

ALTER TABLE `otel`.llm_traces  ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) AFTER pricing_version;

-- A minmax index on inserted_at: after each insert the writer reads the rows inserted since, to
-- merge the spans of one call that arrived apart (otel_llm.storage.reconcile). With the index it
-- reads only the parts of the latest inserts. Fresh installs get it from schema.sql, which makes
-- the first statement a no-op. The second builds it for the parts written before (once, in the
-- background). On a cluster both alter the local tables (the Distributed table has no indexes).
ALTER TABLE `otel`.llm_traces  ADD INDEX IF NOT EXISTS idx_inserted_at inserted_at TYPE minmax GRANULARITY 1;

ALTER TABLE `otel`.llm_traces  MATERIALIZE INDEX idx_inserted_at;
