-- Apps (issue 14): developers publish apps, stores install them. An installation
-- is a plugin of the store (its webhook subscription) plus the permissions the
-- store granted; the relay keeps delivering plugins and never learns what an app is.

-- typo-tolerant search: trigram look-ups on the marketplace's vocabulary
create extension if not exists pg_trgm;

-- Developers: created by the operator (bin/admin developers create); only the
-- sha256 of their key is kept, as for API keys.
create table developers (
  id          uuid primary key default gen_random_uuid(),
  name        text not null check (length(name) between 1 and 100),
  prefix      text not null,
  key_hash    text not null,
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz
);
create unique index developers_key_hash on developers (key_hash);

-- An app, with its current (latest published) version's manifest.
create table apps (
  id            uuid primary key default gen_random_uuid(),
  developer_id  uuid not null references developers (id),
  slug          text not null,
  name          text not null,
  tagline       text not null default '',
  description   text not null default '',
  categories    text[] not null default '{}',
  icon_url      text,
  homepage_url  text,
  support_url   text,
  privacy_url   text,
  listed        boolean not null default false,
  version       text not null,
  webhook_url   text not null,
  events        text[] not null,
  -- [{permission, purpose}], as the manifest declares them
  permissions   jsonb not null,
  config_schema jsonb not null,
  -- the app's own credentials: client_id is public, only the secret's sha256 is kept
  client_id     text not null,
  -- the whsec_ every delivery to any installation is signed with, encrypted as plugin secrets are
  signing_secret text not null,
  -- live installations and reviews, kept by the writes that change them: the sorts read columns, not counts
  installs      integer not null default 0 check (installs >= 0),
  review_count  integer not null default 0,
  rating_sum    integer not null default 0,
  rating        numeric(3, 2) generated always as
                  (case when review_count = 0 then 0 else round(rating_sum::numeric / review_count, 2) end) stored,
  -- weighted: name (A), tagline and categories (B), description (C); written with the row
  search        tsvector not null,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
create unique index apps_slug on apps (slug);
create unique index apps_client_id on apps (client_id);
create index apps_developer on apps (developer_id, created_at, id);
-- the marketplace reads listed apps only: every index of its sorts and filters holds them alone
create index apps_listed_search on apps using gin (search) where listed;
create index apps_listed_categories on apps using gin (categories) where listed;
create index apps_listed_popular on apps (installs desc, id desc) where listed;
create index apps_listed_rating on apps (rating desc, id desc) where listed;
create index apps_listed_newest on apps (created_at desc, id desc) where listed;
create index apps_listed_name on apps (lower(name), id) where listed;

-- Every word of every app's searchable text: a query word that is not one of them
-- is corrected to its nearest (trigram candidates, then edit distance) before searching.
create table app_search_words (
  word text primary key
);
create index app_search_words_trgm on app_search_words using gist (word gist_trgm_ops);

-- Client secrets: the current one (expires_at null) and those still in their rotation grace.
create table app_client_secrets (
  id           bigint generated always as identity primary key,
  app_id       uuid not null references apps (id),
  secret_hash  text not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz
);
create index app_client_secrets_app on app_client_secrets (app_id, id desc);

-- Every published version, for the listing's history and for upgrades.
create table app_versions (
  app_id        uuid not null references apps (id),
  version       text not null,
  webhook_url   text not null,
  events        text[] not null,
  permissions   jsonb not null,
  config_schema jsonb not null,
  created_at    timestamptz not null default now(),
  primary key (app_id, version)
);
create index app_versions_app on app_versions (app_id, created_at desc);

-- A store's installation of an app; the plugin is its webhook subscription.
create table installations (
  id                  uuid primary key,
  app_id              uuid not null references apps (id),
  tenant_id           uuid not null,
  plugin_id           uuid not null references plugins (id),
  status              text not null default 'active' check (status in ('active', 'uninstalled')),
  -- the version it runs and the permissions the store granted
  version             text not null,
  permissions         text[] not null,
  -- a newer version that asks for more, waiting for the store's approval
  pending_version     text,
  pending_permissions text[],
  -- config values; writeOnly ones only in secret_config, encrypted (src/secrets/cipher.ts)
  config              jsonb not null default '{}',
  secret_config       text,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  uninstalled_at      timestamptz
);
-- one live installation of an app per store; a reinstall is a new row
create unique index installations_live on installations (app_id, tenant_id) where status = 'active';
create index installations_tenant on installations (tenant_id, created_at desc, id desc);
create index installations_app on installations (app_id, created_at desc, id desc);
create index installations_plugin on installations (plugin_id);

-- Installation access tokens: an hour each, only their sha256 kept. A token acts
-- with its installation's permissions as they are at each request.
create table app_access_tokens (
  token_hash       text primary key,
  installation_id  uuid not null references installations (id),
  tenant_id        uuid not null,
  expires_at       timestamptz not null,
  created_at       timestamptz not null default now()
);
create index app_access_tokens_installation on app_access_tokens (installation_id, expires_at);

-- One review per store and app.
create table app_reviews (
  app_id      uuid not null references apps (id),
  tenant_id   uuid not null,
  rating      integer not null check (rating between 1 and 5),
  body        text not null default '' check (length(body) <= 2000),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  primary key (app_id, tenant_id)
);
create index app_reviews_page on app_reviews (app_id, updated_at desc, tenant_id);

-- The plugin side: a plugin may belong to an app installation (the store may pause
-- it, not reshape it). An uninstalled app's plugin is retired: it takes no events,
-- is not listed, and still delivers its app.uninstalled; once nothing is left to
-- deliver the relay's housekeeping marks it deleted.
alter table plugins
  add column app_installation_id uuid,
  add column retired_at timestamptz;
drop index plugins_tenant_slug;
create unique index plugins_tenant_slug on plugins (tenant_id, slug) where status <> 'deleted' and retired_at is null;
create index plugins_retired on plugins (id) where retired_at is not null and status <> 'deleted';
