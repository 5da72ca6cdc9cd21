-- Each attempt records its own outcome when it is written: sent, retry (another
-- attempt follows), or failed (the delivery's last attempt failed). It used to be
-- derived later from the delivery's status at read time, so an attempt that ended
-- its delivery as failed and was then redelivered by hand read as retried, and the
-- analytics counted it one way or the other depending on when the aggregator ran.
-- Rows written before this migration keep null and are still derived.
-- A nullable column without a default, and a constraint NOT VALID: no table
-- rewrite and no scan of the existing attempts under the migration's lock.
alter table delivery_attempts add column outcome text;
alter table delivery_attempts add constraint delivery_attempts_outcome check (outcome in ('sent', 'retry', 'failed')) not valid;
