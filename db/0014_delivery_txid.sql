-- Which transaction created each delivery (issue 20), for the live stream. Its
-- cursors are ids, drawn before commit, so a transaction that commits after a
-- later one leaves a lower id behind them; the stream finds such rows again by the
-- transaction that wrote them. The row's xmin cannot say it: every claim and
-- outcome rewrites the row and its xmin with it. Rows are found by id range (the
-- primary key) and then compared on txid, so no index is needed. Set as a default
-- after the column is added: no table rewrite; older rows keep null (long settled).
alter table deliveries add column txid bigint;
alter table deliveries alter column txid set default (pg_current_xact_id()::text::bigint);
