-- Revert 036: drop the lineage envelope-refresh trigger and its function.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/036_create_trg_iu_lineage_envelope_refresh.down.sql
-- changes: trg_iu_lineage_envelope_refresh on iu_collection_template_instance_lineage,
--          fn_iu_trg_lineage_envelope_refresh(), ledger row 036. Rows the trigger wrote to
--          iu_three_axis_envelope_refresh_log and iu_three_axis_envelope_trigger_error_log
--          stay (history; retention-managed)
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 036 is the applied head)
-- lighter: to stop the refreshes without a revert, leave iu_core.three_axis_auto_refresh_enabled false
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 036 is pending again

\set down_version 036
BEGIN;
\ir _lib/guard.sql

DROP TRIGGER trg_iu_lineage_envelope_refresh ON iu_collection_template_instance_lineage;
DROP FUNCTION fn_iu_trg_lineage_envelope_refresh();
DELETE FROM iu_core_schema_migration WHERE version = '036';

COMMIT;
