-- Revert 042: drop the bounded scaleout functions.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/042_create_fn_iu_bounded_scaleout.down.sql
-- changes: fn_iu_bounded_scaleout and its helpers _args, _replan, _assert, _plan, _templates,
--          _check, ledger row 042; committed batches stay (roll them back by actor first if
--          they must go: sql/ops/scaleout/rollback_batch.sql)
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 042 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 042 is pending again

\set down_version 042
BEGIN;
\ir _lib/guard.sql

DROP FUNCTION fn_iu_bounded_scaleout_args(text, text, text, text, text);
DROP FUNCTION fn_iu_bounded_scaleout(int, text, numeric, int, boolean);
DROP FUNCTION fn_iu_bounded_scaleout_replan();
DROP FUNCTION fn_iu_bounded_scaleout_assert(text, int, boolean);
DROP FUNCTION fn_iu_bounded_scaleout_plan(int, numeric);
DROP FUNCTION fn_iu_bounded_scaleout_templates();
DROP FUNCTION fn_iu_bounded_scaleout_check(int, text, numeric, int, boolean);
DELETE FROM iu_core_schema_migration WHERE version = '042';

COMMIT;
