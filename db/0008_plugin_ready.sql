-- The ready set (issue 13): one row per plugin that may have claimable work, and
-- from when. The claim reads only the rows due now, least recently visited first,
-- so its cost follows the plugins that have work, never the number of plugins,
-- tenants or delivered rows (before: every claim and every idle poll visited
-- every active plugin; 254 ms with 50,000 of them).
--
-- due_at is a lower bound: no delivery of the plugin can become claimable before
-- it (except through a write that lowers it). Whoever makes a delivery due earlier
-- than due_at (the fan-out, a retry outcome, a release, resume and enable, recover,
-- a manual retry) lowers it in the same transaction and adds 1 to version; only
-- the claim raises it, from what its snapshot shows, and only where version is
-- still what it read: a write its snapshot missed makes that row keep its due_at.
-- src/relay/sql/claim.ts explains the protocol; 'infinity' means nothing to do.
create table plugin_ready (
  plugin_id uuid primary key,
  due_at    timestamptz not null,
  version   bigint not null default 0
);
create index plugin_ready_due on plugin_ready (due_at, plugin_id);

-- every plugin that has undelivered deliveries today is looked at once
insert into plugin_ready (plugin_id, due_at)
select distinct d.plugin_id, now()
  from deliveries d
 where d.status in ('pending', 'retry');
