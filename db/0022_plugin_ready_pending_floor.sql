-- A lower bound of the keys (next_attempt_at, id) of a plugin's pending deliveries
-- (issue 13). The claim's look-ups of due fresh deliveries start there instead of
-- at '-infinity': every delivery it claims leaves a dead entry at the front of the
-- plugin's range of deliveries_plugin_pending (its old key) until VACUUM, and a
-- range that starts at '-infinity' steps over all of them on every look-up. On a
-- fresh burst of 1,000,000 with autovacuum off, the drain fell from 2,122/s in its
-- first tenth to 725/s in its last.
--
-- Kept like due_at (db/0008): every write that gives a plugin a pending delivery
-- lowers it to that delivery's key, in the same transaction, under the same row
-- lock and version (src/relay/sql/ready.ts); only the claim raises it, to the
-- smallest pending key its snapshot shows, where version is still what it read. A
-- row inserted into the ready set knows nothing of the plugin's older rows: it
-- starts at ('-infinity', 0). The id breaks ties: one write's deliveries, or a bulk
-- load's, share a next_attempt_at (test/ready-set.test.ts: 20,000 of them).
alter table plugin_ready
  add column pending_floor timestamptz not null default '-infinity',
  add column pending_floor_id bigint not null default 0;
