-- Migration 8: fan-out and fan-in. A parallel or map step's children are counted in one
-- fan_ins row per step visit and attempt (fan_id); each child has a join row. A child's
-- end marks its join row and adds to the counters inside its own terminal transaction,
-- so no end is lost or counted twice, and the parent is woken only when a threshold is
-- crossed (all ended, too many failed, slots free for more). Additive.
CREATE TABLE IF NOT EXISTS fan_ins (
    fan_id TEXT PRIMARY KEY,
    parent_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    total INTEGER NOT NULL,
    max_concurrency INTEGER NOT NULL,
    tolerated INTEGER NOT NULL,
    flows TEXT NOT NULL,
    started INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fan_ins_parent ON fan_ins (parent_id);
CREATE TABLE IF NOT EXISTS fan_children (
    child_id TEXT PRIMARY KEY,
    fan_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    UNIQUE (fan_id, idx)
);
