-- Revert 037: unregister the healthcheck surface envelope_lineage_trigger and drop its check function.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/037_register_envelope_refresh_trigger_healthcheck.down.sql
-- changes: one iu_healthcheck_surface row, fn_iu_hc_envelope_lineage_trigger(), ledger row 037
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 037 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 037 is pending again

\set down_version 037
BEGIN;
\ir _lib/guard.sql

DELETE FROM iu_healthcheck_surface WHERE surface = 'envelope_lineage_trigger';
DROP FUNCTION fn_iu_hc_envelope_lineage_trigger();
DELETE FROM iu_core_schema_migration WHERE version = '037';

COMMIT;
