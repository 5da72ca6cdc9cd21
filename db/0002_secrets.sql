-- Webhook signing secrets (Standard Webhooks), one current secret per plugin plus
-- the ones still inside their rotation grace window. Stored encrypted (AES-256-GCM
-- under SECRETS_KEY, see src/secrets/cipher.ts): a copy of the database alone can
-- neither read a secret nor forge a webhook.

create table plugin_secrets (
  id          bigint generated always as identity primary key,
  tenant_id   uuid not null,
  plugin_id   uuid not null references plugins (id) on delete cascade,
  -- v1:<iv>:<tag>:<ciphertext>, never the whsec_ text itself
  ciphertext  text not null,
  created_at  timestamptz not null default now(),
  -- null: the current secret. A rotation sets it to the end of the grace window,
  -- until which the secret still signs alongside its successor.
  expires_at  timestamptz
);
-- one current secret per plugin; also the arbiter when two processes create one at once
create unique index plugin_secrets_current on plugin_secrets (plugin_id) where expires_at is null;
-- the relay's claim reads a plugin's signing secrets newest first through this index
create index plugin_secrets_plugin on plugin_secrets (plugin_id, id desc);
