-- Migration 11: the change feed. Every history record gets a place in one feed of all
-- executions (the console's Events view reads it from any process): the id of the
-- transaction that wrote it (feed_xid) and a number (feed_seq). Numbers are handed out
-- before commit, so transactions commit out of their order; the feed therefore reads only
-- records whose transaction id is below the oldest transaction still open
-- (pg_snapshot_xmin): those transactions have all ended, and every later transaction gets
-- a higher id, so no record can still appear below that line. The feed is ordered by
-- (feed_xid, feed_seq). Records written before this migration have neither (NULL) and are
-- not in the feed; the defaults apply to new rows only (no table rewrite). Additive: 0.1
-- workers' inserts do not name the columns and get the defaults.
CREATE SEQUENCE IF NOT EXISTS step_records_feed_seq;
ALTER TABLE step_records ADD COLUMN IF NOT EXISTS feed_xid xid8;
ALTER TABLE step_records ADD COLUMN IF NOT EXISTS feed_seq bigint;
ALTER TABLE step_records ALTER COLUMN feed_xid SET DEFAULT pg_current_xact_id();
ALTER TABLE step_records ALTER COLUMN feed_seq SET DEFAULT nextval('step_records_feed_seq');
CREATE INDEX IF NOT EXISTS step_records_feed ON step_records (feed_xid, feed_seq)
    WHERE feed_xid IS NOT NULL;
