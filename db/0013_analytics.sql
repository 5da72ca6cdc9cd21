-- Plugin analytics and alerting (issue 16): rollups kept current by an aggregator
-- that reads delivery_attempts behind a watermark, never by the relay's own statement.

-- Which transaction wrote each attempt. The aggregator takes rows whose writing
-- transaction is older than every transaction still in progress
-- (pg_snapshot_xmin), so a row whose transaction commits late is never skipped:
-- an id from the sequence is drawn before commit and says nothing about when the
-- row became visible; a transaction id below the snapshot's xmin does. Rows older
-- than this migration keep null and are not aggregated. Set as a default (no table
-- rewrite, no change to the relay's statement).
alter table delivery_attempts add column txid bigint;
alter table delivery_attempts alter column txid set default (pg_current_xact_id()::text::bigint);
-- the aggregator reads the next slice of transactions through this index
create index delivery_attempts_txid on delivery_attempts (txid) where txid is not null;

-- The aggregator's position: every attempt with txid below it is in the rollups.
-- One row; an aggregator run locks it with skip locked, so any number of processes
-- may run the aggregator and exactly one works at a time.
create table analytics_watermark (
  name text primary key,
  txid bigint not null,
  updated_at timestamptz not null default now()
);
insert into analytics_watermark (name, txid) values ('attempts', pg_current_xact_id()::text::bigint);

-- Adds two histograms (or cause counters) element by element; the shorter one is
-- padded with zeros (histograms are stored without their trailing empty buckets).
create function analytics_add(a integer[], b integer[]) returns integer[]
language sql immutable parallel safe as $$
  select coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) order by i), '{}')
    from unnest(coalesce(a, '{}'), coalesce(b, '{}')) with ordinality as u (x, y, i)
$$;
create aggregate analytics_sum(integer[]) (sfunc = analytics_add, stype = integer[], initcond = '{}');

-- One row per plugin, event type and bucket (a minute, an hour, a day), UTC.
-- latency, e2e: counts per log-spaced bucket (src/analytics/histogram.ts) of the
-- attempt's duration and, for sent attempts, of commit → delivered.
-- causes: failed attempts by cause, in the order of src/analytics/failure-cause.ts.
create table analytics_minute (
  tenant_id    uuid not null,
  plugin_id    uuid not null,
  event_type   text not null,
  bucket       timestamptz not null,
  attempts     integer not null,
  sent         integer not null,
  retried      integer not null,
  failed       integer not null,
  latency      integer[] not null,
  e2e          integer[] not null,
  causes       integer[] not null,
  primary key (plugin_id, bucket, event_type)
);
create table analytics_hour (like analytics_minute including all);
create table analytics_day (like analytics_minute including all);
-- the overview reads a tenant's plugins over a range; retention deletes by bucket
create index analytics_minute_tenant on analytics_minute (tenant_id, bucket);
create index analytics_hour_tenant on analytics_hour (tenant_id, bucket);
create index analytics_day_tenant on analytics_day (tenant_id, bucket);
create index analytics_minute_bucket on analytics_minute using brin (bucket);
create index analytics_hour_bucket on analytics_hour using brin (bucket);
create index analytics_day_bucket on analytics_day using brin (bucket);

-- A plugin may state its objective: {success_rate, latency_p95_ms}.
alter table plugins add column slo jsonb;
-- 'alert': an alert endpoint (/api/alerts/endpoints): a plugin subscribed to
-- plugin.* alerts, about which no alert is raised (an alert about a failing alert
-- endpoint would go to that endpoint).
alter table plugins add column kind text not null default 'plugin' check (kind in ('plugin', 'alert'));
-- recently disabled plugins, for plugin.disabled
create index plugins_disabled on plugins (disabled_at) where status = 'disabled';

-- Each plugin's alert state: an alert fires on a transition only, and its
-- recovery re-arms it.
create table plugin_alerts (
  plugin_id          uuid primary key,
  tenant_id          uuid not null,
  -- failed attempts in a row (attempt order), reset by a sent attempt, and when
  -- the run began; failing: plugin.failing was sent for this run
  streak             integer not null default 0,
  failing            boolean not null default false,
  failing_since      timestamptz,
  last_cause         text,
  last_error         text,
  last_status_code   integer,
  last_failure_at    timestamptz,
  backlog            boolean not null default false,
  backlog_since      timestamptz,
  slo_burn           boolean not null default false,
  slo_burn_since     timestamptz,
  disabled_notified  timestamptz,
  updated_at         timestamptz not null default now()
);
