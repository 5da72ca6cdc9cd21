-- The core: plugins, products, the outbox (events + deliveries) and every attempt.
-- Every row carries tenant_id; queries are always scoped by it.

create table plugins (
  id          uuid primary key default gen_random_uuid(),
  tenant_id   uuid not null,
  slug        text not null,
  name        text not null,
  webhook_url text not null,
  events      text[] not null,
  -- 'deleted' keeps the row so the events log still names the plugin of old deliveries
  status      text not null default 'active' check (status in ('active', 'paused', 'deleted')),
  config      jsonb not null default '{}',
  metadata    jsonb not null default '{}',
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
-- a slug is unique among the tenant's live plugins; a deleted slug may be registered again
create unique index plugins_tenant_slug on plugins (tenant_id, slug) where status <> 'deleted';
create index plugins_fanout on plugins (tenant_id) where status in ('active', 'paused');

create table products (
  id          uuid primary key default gen_random_uuid(),
  tenant_id   uuid not null,
  name        text not null,
  description text,
  price       numeric(14, 2) not null default 0 check (price >= 0),
  status      text not null default 'active' check (status in ('active', 'draft', 'archived')),
  images      text[] not null default '{}',
  tags        text[] not null default '{}',
  collections text[] not null default '{}',
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index products_tenant_page on products (tenant_id, created_at desc, id desc);

-- One row per domain event. body holds the exact bytes every subscriber receives.
create table events (
  id         uuid primary key,
  tenant_id  uuid not null,
  type       text not null,
  body       text not null,
  created_at timestamptz not null default now()
);

-- One row per (event, plugin): the outbox the relays drain.
create table deliveries (
  id               bigint generated always as identity primary key,
  tenant_id        uuid not null,
  event_id         uuid not null references events (id),
  plugin_id        uuid not null references plugins (id),
  status           text not null default 'pending'
                   check (status in ('pending', 'retry', 'sent', 'failed', 'cancelled')),
  attempts         integer not null default 0,
  -- when the delivery is due; while claimed, when the claim's lease runs out.
  -- 'infinity' parks a delivery whose plugin is paused.
  next_attempt_at  timestamptz not null default now(),
  -- the fence: set by a claim, required by whoever records its outcome
  lease_id         uuid,
  last_status_code integer,
  last_error       text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  sent_at          timestamptz
);
-- The relay's claim reads only this index: it holds the claimable rows alone,
-- so its cost does not grow with delivered history.
create index deliveries_due on deliveries (next_attempt_at, id) where status in ('pending', 'retry');
create index deliveries_log on deliveries (tenant_id, id desc);
create index deliveries_plugin on deliveries (plugin_id, id desc);

create table delivery_attempts (
  id           bigint generated always as identity primary key,
  delivery_id  bigint not null references deliveries (id) on delete cascade,
  attempt      integer not null,
  status_code  integer,
  error        text,
  duration_ms  integer not null,
  created_at   timestamptz not null default now()
);
create index delivery_attempts_delivery on delivery_attempts (delivery_id, id);
