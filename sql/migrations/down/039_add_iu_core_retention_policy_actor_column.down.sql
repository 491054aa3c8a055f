-- Revert 039: drop actor_column from iu_core_retention_policy, its validation trigger and
-- the actor-scoped cleanup overload.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/039_add_iu_core_retention_policy_actor_column.down.sql
-- changes: fn_iu_core_retention_cleanup(boolean, timestamptz, text), trigger
--          trg_iu_core_retention_policy_validate_actor_column and its two functions, column
--          iu_core_retention_policy.actor_column (its values go with it), ledger row 039;
--          the 2-argument cleanup of 035 is untouched
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 039 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 039 is pending again

\set down_version 039
BEGIN;
\ir _lib/guard.sql

DROP FUNCTION fn_iu_core_retention_cleanup(boolean, timestamptz, text);
DROP TRIGGER trg_iu_core_retention_policy_validate_actor_column ON iu_core_retention_policy;
DROP FUNCTION fn_iu_trg_retention_policy_validate_actor_column();
DROP FUNCTION fn_iu_retention_policy_actor_column_problem(text, text);
ALTER TABLE iu_core_retention_policy DROP COLUMN actor_column;
DELETE FROM iu_core_schema_migration WHERE version = '039';

COMMIT;
