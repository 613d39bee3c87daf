-- Migration 2: per (flow, status) counts kept by triggers, so counting a large store reads a
-- few rows instead of scanning an index. A status changes a few times per execution, and a
-- commit names the status column only when it changed.
CREATE TABLE IF NOT EXISTS execution_counts (
    flow_id TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (flow_id, status)
) WITHOUT ROWID;
DELETE FROM execution_counts;
INSERT INTO execution_counts SELECT flow_id, status, COUNT(*) FROM executions GROUP BY flow_id, status;
CREATE TRIGGER IF NOT EXISTS executions_counted AFTER INSERT ON executions BEGIN
    INSERT INTO execution_counts VALUES (NEW.flow_id, NEW.status, 1)
        ON CONFLICT (flow_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS executions_recounted AFTER UPDATE OF status ON executions
WHEN OLD.status <> NEW.status BEGIN
    UPDATE execution_counts SET n = n - 1 WHERE flow_id = OLD.flow_id AND status = OLD.status;
    INSERT INTO execution_counts VALUES (NEW.flow_id, NEW.status, 1)
        ON CONFLICT (flow_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS executions_uncounted AFTER DELETE ON executions BEGIN
    UPDATE execution_counts SET n = n - 1 WHERE flow_id = OLD.flow_id AND status = OLD.status;
END;
