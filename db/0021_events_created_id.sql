-- Retention sweeps old events in windows of (created_at, id), each starting where
-- the last one ended (src/relay/maintenance.ts). With created_at alone, events kept
-- by an undelivered delivery (a paused plugin's parked ones) sat in front of every
-- batch and were read again by each: a run's cost grew with their number times its
-- batches. Ties on created_at (one write's events, a bulk load) need the id to
-- order them, or a window could not start inside them.
create index events_created_id on events (created_at, id);
drop index events_created;

-- The same for the deletes of settled deliveries: each batch starts after the last
-- one's (created_at, id). Every deleted row leaves a dead entry at the front of the
-- index until VACUUM, and a batch that started at the oldest stepped over all the
-- batches before it: a run's cost grew with the square of what it deleted.
create index deliveries_settled_id on deliveries (created_at, id)
  where status in ('sent', 'failed', 'cancelled');
drop index deliveries_settled;
