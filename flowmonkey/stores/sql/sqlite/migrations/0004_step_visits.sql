-- Migration 4: step visits and deliveries. An execution's ``visit`` is the revision at which
-- its current step visit began (a flow that loops back to a step visits it anew), and
-- ``delivery`` counts how often the current attempt was handed to a handler (more than
-- once after a takeover). History records and jobs name their visit, so a revisit gets
-- its own sub-flow child and its own job. Additive: 0.1 workers never read these columns.
ALTER TABLE executions ADD COLUMN visit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN delivery INTEGER NOT NULL DEFAULT 1;
ALTER TABLE step_records ADD COLUMN visit INTEGER;
ALTER TABLE jobs ADD COLUMN visit INTEGER NOT NULL DEFAULT 0;
