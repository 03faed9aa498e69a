-- Shard results are stored as written, without Postgres's own compression: they are already an
-- encoded format, and pglz spent 15-60 ms on each half-megabyte sweep shard before giving up and
-- storing it uncompressed (inside the commit transaction, holding the execution's row).
ALTER TABLE shard_results ALTER COLUMN body SET STORAGE EXTERNAL;
