-- Per-tenant budgets (src/budgets/tenant-budgets.ts) count a tenant's live keys
-- and plugins up to the budget; GET /api/plugins pages them oldest first. These
-- indexes keep both to the tenant's live rows, however many were revoked or deleted.
create index api_keys_live on api_keys (tenant_id) where revoked_at is null;
create index plugins_tenant_created on plugins (tenant_id, created_at, id) where status <> 'deleted';

-- Secrets encrypted before ciphertexts were bound to their plugin (v1, no
-- associated data) are re-encrypted bound (v2) at start (src/secrets/secret-binding.ts):
-- this index finds those left, and is empty once they are done.
create index plugin_secrets_unbound on plugin_secrets (id) where ciphertext like 'v1:%';
