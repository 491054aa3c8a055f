-- Revert 036: drop the lineage envelope-refresh trigger and its function.
-- Not read by the migration runner. Revert 037 first (its down script).
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/036_create_trg_iu_lineage_envelope_refresh.down.sql
-- changes: trg_iu_lineage_envelope_refresh on iu_collection_template_instance_lineage,
--          fn_iu_trg_lineage_envelope_refresh(), ledger row 036 (one transaction; refused,
--          writing nothing, unless 036 is the applied head). Rows the trigger wrote to
--          iu_three_axis_envelope_refresh_log and iu_three_axis_envelope_trigger_error_log
--          stay (history; retention-managed).
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 036 is pending again
-- lighter: to stop the refreshes without a revert, leave iu_core.three_axis_auto_refresh_enabled false

BEGIN;

DO $down$
DECLARE
  v_later text;
BEGIN
  IF to_regclass('public.iu_core_schema_migration') IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012',
      MESSAGE = 'revert 036 refused: no migration ledger iu_core_schema_migration in this database';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM iu_core_schema_migration m WHERE m.version = '036') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012', MESSAGE = 'revert 036 refused: migration 036 is not applied';
  END IF;
  SELECT string_agg(m.version, ', ' ORDER BY m.version) INTO v_later
    FROM iu_core_schema_migration m WHERE m.version > '036';
  IF v_later IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012',
      MESSAGE = format('revert 036 refused: later migration(s) %s are applied', v_later),
      HINT = 'revert newer migrations first (037: down/037_register_envelope_refresh_trigger_healthcheck.down.sql), newest first';
  END IF;
END
$down$;

DROP TRIGGER trg_iu_lineage_envelope_refresh ON iu_collection_template_instance_lineage;
DROP FUNCTION fn_iu_trg_lineage_envelope_refresh();
DELETE FROM iu_core_schema_migration WHERE version = '036';

COMMIT;
