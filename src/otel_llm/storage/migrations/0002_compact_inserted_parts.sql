-- Inserted parts stay Compact (all columns in one data file) below 256 MB uncompressed, instead
-- of ClickHouse's 10 MB default. A Wide part is two files per column, sub-column and index (249
-- for llm_traces), and creating them took more than half of chDB's CPU for a 20,000-row batch of
-- 2 KB payloads (~54 MB uncompressed, 1.6 MB on disk): 26-29 -> 10-12 us a row. Merges still
-- write Wide parts once they reach the threshold, so large parts keep per-column files. Reads
-- cost a little more on Compact parts: over 200,000 rows in 10 unmerged parts, a group-by took
-- 17 -> 21 ms and a trace look-up 12 -> 16 ms.
ALTER TABLE {database}.{table} {on_cluster} MODIFY SETTING min_bytes_for_wide_part = 268435456
