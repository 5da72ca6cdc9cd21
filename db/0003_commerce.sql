-- The store's commerce data: stock on products, customers, orders and their lines.
-- Every row carries tenant_id; queries are always scoped by it.

-- Stock is only ever changed through src/inventory/adjust-stock.ts, which emits
-- the inventory events; the check is the last line of defence against overselling.
alter table products
  add column inventory_quantity  integer not null default 0 check (inventory_quantity >= 0),
  add column low_stock_threshold integer not null default 5 check (low_stock_threshold >= 0);

create table customers (
  id                uuid primary key default gen_random_uuid(),
  tenant_id         uuid not null,
  email             text not null,
  name              text,
  phone             text,
  addresses         jsonb not null default '[]',
  accepts_marketing boolean not null default false,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
-- one customer per address and tenant, whatever the case it was typed in
create unique index customers_tenant_email on customers (tenant_id, lower(email));
create index customers_tenant_page on customers (tenant_id, created_at desc, id desc);

create table orders (
  id              uuid primary key default gen_random_uuid(),
  tenant_id       uuid not null,
  -- a customer with orders cannot be deleted (the API answers 409)
  customer_id     uuid not null references customers (id),
  status          text not null default 'pending'
                  check (status in ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
  -- numeric(15, 2): exact, and every value round-trips through a JSON number (15 significant digits)
  total           numeric(15, 2) not null check (total >= 0),
  tracking_number text,
  cancel_reason   text,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  paid_at         timestamptz,
  shipped_at      timestamptz,
  delivered_at    timestamptz,
  cancelled_at    timestamptz
);
create index orders_tenant_page on orders (tenant_id, created_at desc, id desc);
create index orders_tenant_status_page on orders (tenant_id, status, created_at desc, id desc);
create index orders_customer_page on orders (customer_id, created_at desc, id desc);

create table order_items (
  order_id    uuid not null references orders (id) on delete cascade,
  -- the line's place in the order as it was placed
  position    integer not null,
  tenant_id   uuid not null,
  -- no foreign key: an order outlives the products it sold; name and price are snapshots
  product_id  uuid not null,
  name        text not null,
  unit_price  numeric(14, 2) not null,
  quantity    integer not null check (quantity > 0),
  line_total  numeric(15, 2) not null,
  primary key (order_id, position)
);
