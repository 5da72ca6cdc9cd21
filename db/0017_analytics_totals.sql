-- Analytics at scale (issue 16, second part): range totals that cost the same for
-- 30 days as for one, per-app rollups for developers, and alert checks bounded
-- by the plugins that can change state.

-- Counters and histograms summed in bigint: running totals outgrow integer.
create function analytics_add(a bigint[], b bigint[]) returns bigint[]
language sql immutable parallel safe as $$
  select coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) order by i), '{}')
    from unnest(coalesce(a, '{}'), coalesce(b, '{}')) with ordinality as u (x, y, i)
$$;
create aggregate analytics_sum(bigint[]) (sfunc = analytics_add, stype = bigint[], initcond = '{}');

-- Running totals: one row per plugin and UTC day it had attempts, holding every
-- attempt of that day and all days before it (all event types). A range of whole
-- days is the difference of two rows, read with two index probes per plugin,
-- whatever the range's length and however many attempts it holds: the overview
-- of a store costs what its number of plugins costs. Kept by the aggregator with
-- the day rollups, in the same transaction.
create table analytics_total (
  tenant_id  uuid not null,
  plugin_id  uuid not null,
  day        timestamptz not null,
  attempts   bigint not null,
  sent       bigint not null,
  retried    bigint not null,
  failed     bigint not null,
  latency    bigint[] not null,
  e2e        bigint[] not null,
  causes     bigint[] not null,
  primary key (plugin_id, day)
);
create index analytics_total_day on analytics_total using brin (day);

-- what the day rollups already hold, as running sums
insert into analytics_total (tenant_id, plugin_id, day, attempts, sent, retried, failed, latency, e2e, causes)
select tenant_id, plugin_id, bucket,
       sum(attempts) over w, sum(sent) over w, sum(retried) over w, sum(failed) over w,
       analytics_sum(latency) over w, analytics_sum(e2e) over w, analytics_sum(causes) over w
  from (select tenant_id, plugin_id, bucket, sum(attempts) as attempts, sum(sent) as sent, sum(retried) as retried,
               sum(failed) as failed, analytics_sum(latency::bigint[]) as latency, analytics_sum(e2e::bigint[]) as e2e,
               analytics_sum(causes::bigint[]) as causes
          from analytics_day group by tenant_id, plugin_id, bucket) d
window w as (partition by plugin_id order by bucket rows between unbounded preceding and current row);

-- An app's numbers across its installations (GET /api/developer/apps/{slug}/analytics):
-- the same rollups keyed by app, so an app with thousands of installations costs
-- what its range costs, and no row of one app is ever read for another.
create table analytics_app_minute (
  app_id      uuid not null,
  event_type  text not null,
  bucket      timestamptz not null,
  attempts    integer not null,
  sent        integer not null,
  retried     integer not null,
  failed      integer not null,
  latency     integer[] not null,
  e2e         integer[] not null,
  causes      integer[] not null,
  primary key (app_id, bucket, event_type)
);
create table analytics_app_hour (like analytics_app_minute including all);
create table analytics_app_day (like analytics_app_minute including all);
create index analytics_app_minute_bucket on analytics_app_minute using brin (bucket);
create index analytics_app_hour_bucket on analytics_app_hour using brin (bucket);
create index analytics_app_day_bucket on analytics_app_day using brin (bucket);

insert into analytics_app_hour (app_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
select i.app_id, r.event_type, r.bucket, sum(r.attempts), sum(r.sent), sum(r.retried), sum(r.failed),
       analytics_sum(r.latency), analytics_sum(r.e2e), analytics_sum(r.causes)
  from analytics_hour r join installations i on i.plugin_id = r.plugin_id
 group by 1, 2, 3;
insert into analytics_app_day (app_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
select i.app_id, r.event_type, r.bucket, sum(r.attempts), sum(r.sent), sum(r.retried), sum(r.failed),
       analytics_sum(r.latency), analytics_sum(r.e2e), analytics_sum(r.causes)
  from analytics_day r join installations i on i.plugin_id = r.plugin_id
 group by 1, 2, 3;
insert into analytics_app_minute (app_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
select i.app_id, r.event_type, r.bucket, sum(r.attempts), sum(r.sent), sum(r.retried), sum(r.failed),
       analytics_sum(r.latency), analytics_sum(r.e2e), analytics_sum(r.causes)
  from analytics_minute r join installations i on i.plugin_id = r.plugin_id
 group by 1, 2, 3;

-- SLO checks: a plugin's burn rates can change only while its windows (6 hours at
-- most) hold attempts, or while it is burning (it must be seen recovering).
-- slo_watch_until is set by the aggregator when a plugin with an SLO has attempts
-- (now + 6 hours) and cleared by the check once it has passed with the plugin not
-- burning; the check reads the watched plugins least recently checked first, a
-- bounded batch per run, through this index.
alter table plugin_alerts add column slo_watch_until timestamptz;
alter table plugin_alerts add column slo_checked_at timestamptz;
create index plugin_alerts_slo_watch on plugin_alerts (slo_checked_at nulls first, plugin_id) where slo_watch_until is not null;
-- plugins burning now must be seen recovering, attempts or not
update plugin_alerts set slo_watch_until = now() + interval '6 hours' where slo_burn;
-- plugins in backlog: the backlog check must see each one clear
create index plugin_alerts_backlog on plugin_alerts (plugin_id) where backlog;
