-- Migration 7: a placeholder on the fan-out branch (issue 15), which was given number 8;
-- the merge replaces this file with main's real migration 7.
SELECT 1;
