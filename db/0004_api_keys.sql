-- API keys. A key acts for exactly one tenant; only its sha256 is stored (a key
-- is 256 random bits, so a fast hash is enough: there is nothing to brute-force).
-- The key itself is shown once, when it is created.
create table api_keys (
  id          uuid primary key default gen_random_uuid(),
  tenant_id   uuid not null,
  name        text not null default '' check (length(name) <= 100),
  -- the key's first characters, so an operator can tell keys apart in a list
  prefix      text not null,
  key_hash    text not null,
  -- an admin key may also create, list and revoke its tenant's keys
  admin       boolean not null default false,
  -- an operator key (bin/admin only) may also read what spans every tenant: /metrics
  operator    boolean not null default false,
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz
);
-- every authenticated request looks its key up by hash
create unique index api_keys_hash on api_keys (key_hash);
create index api_keys_tenant on api_keys (tenant_id, created_at);
