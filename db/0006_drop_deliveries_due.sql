-- The claim reads each plugin's due rows through deliveries_plugin_pending and
-- deliveries_plugin_retry (0005). deliveries_due (0001) was left over from the first
-- claim, and it was worse than unused: with it, the claim's cached (generic) plan
-- scanned the whole due backlog once per plugin, filtering on plugin_id (9 ms for
-- an empty claim over 50,000 due rows, 0.15 ms without it), and every insert and
-- every change of a delivery's due time paid for one more index entry.
-- The health and metrics backlog count reads deliveries_plugin_head instead, which
-- also holds the undelivered rows alone (3 ms for 5,100 of them among 352,000 sent).
drop index deliveries_due;
