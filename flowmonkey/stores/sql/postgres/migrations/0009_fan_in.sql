-- Migration 8: fan-out and fan-in. A parallel or map step's children are counted in one
-- fan_ins row per step visit and attempt (fan_id); each child has a join row. A child's
-- end marks its join row and adds to the counters inside its own terminal transaction,
-- so no end is lost or counted twice, and the parent is woken only when a threshold is
-- crossed (all ended, too many failed, slots free for more). Additive.
CREATE TABLE IF NOT EXISTS fan_ins (
    fan_id text PRIMARY KEY,
    parent_id text NOT NULL,
    step_id text NOT NULL,
    mode text NOT NULL,
    total integer NOT NULL,
    max_concurrency integer NOT NULL,
    tolerated integer NOT NULL,
    flows text NOT NULL,
    started integer NOT NULL DEFAULT 0,
    done integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    succeeded integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fan_ins_parent ON fan_ins (parent_id);
CREATE TABLE IF NOT EXISTS fan_children (
    child_id text PRIMARY KEY,
    fan_id text NOT NULL,
    idx integer NOT NULL,
    ended integer NOT NULL DEFAULT 0,
    UNIQUE (fan_id, idx)
);
