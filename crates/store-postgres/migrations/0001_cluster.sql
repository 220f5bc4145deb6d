-- 0001: the bookkeeping every later migration stands on, and nothing more.
-- Runs with search_path set to Depesha's schema (created by the runner), so the
-- names here are unqualified and the schema's name stays a setting.

-- One row per applied migration; the runner inserts it in the same transaction.
CREATE TABLE schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Facts about the cluster that every node must agree on. One row: the check on
-- `one_row` makes a second row impossible. The shard count is fixed when the
-- database is created (a message's shard is derived from it), so it lives here
-- and not in each node's configuration.
CREATE TABLE cluster (
    one_row     boolean PRIMARY KEY DEFAULT true CHECK (one_row),
    shard_count integer NOT NULL CHECK (shard_count > 0)
);
INSERT INTO cluster (shard_count) VALUES (256);
