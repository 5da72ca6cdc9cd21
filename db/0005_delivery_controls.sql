-- Delivery you can trust under faults (issue 5): per-plugin retry policy,
-- automatic disabling of failing plugins, fair claims, retention, idempotent writes.

alter table plugins drop constraint plugins_status_check;
alter table plugins add constraint plugins_status_check
  check (status in ('active', 'paused', 'disabled', 'deleted'));
alter table plugins
  -- null: the service default (WEBHOOK_MAX_RETRIES with exponential backoff)
  add column retry_policy jsonb,
  add column disabled_reason text,
  add column disabled_at timestamptz,
  -- deliveries that ended 'failed' in a row, and since when nothing has succeeded
  add column consecutive_failures integer not null default 0,
  add column failing_since timestamptz;

-- The claim takes due deliveries plugin by plugin (fairness: one plugin's backlog
-- cannot fill every slot), fresh ones and retries in turn, through these indexes
-- of claimable rows only.
create index deliveries_plugin_pending on deliveries (plugin_id, next_attempt_at, id) where status = 'pending';
create index deliveries_plugin_retry on deliveries (plugin_id, next_attempt_at, id) where status = 'retry';
-- In-flight deliveries (claimed, lease running), counted per plugin against its cap.
create index deliveries_leased on deliveries (plugin_id) where lease_id is not null;
-- Retention deletes settled deliveries oldest first.
create index deliveries_settled on deliveries (created_at)
  where status in ('sent', 'failed', 'cancelled');

-- Idempotency-Key: the first response to a key is replayed to every retry of it.
create table idempotency_keys (
  tenant_id     uuid not null,
  key           text not null,
  request_hash  text not null,
  -- null while the first request is still being handled
  status_code   integer,
  response_body text,
  created_at    timestamptz not null default now(),
  primary key (tenant_id, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);

-- ordered: true delivers one delivery at a time, in commit order, to that plugin
alter table plugins add column ordered boolean not null default false;
-- an ordered plugin's head: its undelivered deliveries by id
create index deliveries_plugin_head on deliveries (plugin_id, id) where status in ('pending', 'retry');
-- retention finds old events, and whether a delivery still refers to one
create index events_created on events (created_at);
create index deliveries_event on deliveries (event_id);
