-- In-flight deliveries (claimed, lease running), counted per plugin against its cap
-- (issue 13). Replaces deliveries_leased (plugin_id): keyed by (plugin_id,
-- next_attempt_at), the claim reads a plugin's live leases as one ordered range
-- under a limit, which only this index can give it in that order. With the old key,
-- on a table never analyzed, the planner found deliveries_plugin just as good and
-- read every delivery the plugin ever had (20,000 rows per claim on a fresh burst:
-- docs/performance.md#a-fresh-burst).
create index deliveries_in_flight on deliveries (plugin_id, next_attempt_at) where lease_id is not null;
drop index deliveries_leased;
