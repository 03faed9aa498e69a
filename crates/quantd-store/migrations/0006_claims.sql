-- Fencing. A shard's `claims` counts every claim it was given and never decreases (recovery and
-- releases give back an attempt, not a claim). A claim's number fences its outcomes: complete,
-- fail, stop and release apply only while the shard is still under that claim, so a worker whose
-- lease expired and who claimed the shard again cannot write through the old claim.
ALTER TABLE shards ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
