-- Migration 11: the change feed. Every history record gets a place in one feed of all
-- executions (the console's Events view reads it from any process). SQLite lets one
-- writer at a time hold the database, from its first write to its commit, so numbers
-- handed out in the writing transaction commit in their order: a reader that has seen
-- number n has seen every number below it. AUTOINCREMENT never hands a number out twice
-- (not even after the newest records are deleted). Records written before this migration
-- are not in the feed. Additive: 0.1 workers' inserts fill the feed through the trigger.
CREATE TABLE IF NOT EXISTS change_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, sequence INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS step_records_feed AFTER INSERT ON step_records
BEGIN
    INSERT INTO change_feed (execution_id, sequence) VALUES (NEW.execution_id, NEW.sequence);
END;
