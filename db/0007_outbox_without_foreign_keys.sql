-- A delivery's event and plugin exist by construction: deliveries are only ever
-- inserted by the statement that inserts their event (src/outbox/emit.ts,
-- src/plugins/plugin.test-delivery.ts), with plugin ids read from plugins, which
-- are never deleted (a deleted plugin keeps its row); retention deletes an event
-- only once no delivery refers to it. The two foreign keys checked that again for
-- every row the fan-out inserts, one trigger query each: a third of the outbox
-- statement's execution with 10 subscribed plugins (EXPLAIN ANALYZE: 0.51 of
-- 1.6 ms), on every write. test/delivery-controls.test.ts checks the invariant
-- through plugin deletion, test deliveries and retention.
alter table deliveries drop constraint deliveries_event_id_fkey;
alter table deliveries drop constraint deliveries_plugin_id_fkey;
