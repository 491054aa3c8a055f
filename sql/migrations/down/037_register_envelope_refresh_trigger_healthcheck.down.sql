-- Revert 037: unregister the healthcheck surface envelope_lineage_trigger and
-- drop its check function. Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/037_register_envelope_refresh_trigger_healthcheck.down.sql
-- changes: one iu_healthcheck_surface row, fn_iu_hc_envelope_lineage_trigger(), ledger row 037
--          (all in one transaction; refused, writing nothing, unless 037 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 037 is pending again

BEGIN;

DO $down$
DECLARE
  v_later text;
BEGIN
  IF to_regclass('public.iu_core_schema_migration') IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012',
      MESSAGE = 'revert 037 refused: no migration ledger iu_core_schema_migration in this database';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM iu_core_schema_migration m WHERE m.version = '037') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012', MESSAGE = 'revert 037 refused: migration 037 is not applied';
  END IF;
  SELECT string_agg(m.version, ', ' ORDER BY m.version) INTO v_later
    FROM iu_core_schema_migration m WHERE m.version > '037';
  IF v_later IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012',
      MESSAGE = format('revert 037 refused: later migration(s) %s are applied', v_later),
      HINT = 'revert newer migrations first, newest first, so the runner can re-apply in order';
  END IF;
END
$down$;

DELETE FROM iu_healthcheck_surface WHERE surface = 'envelope_lineage_trigger';
DROP FUNCTION fn_iu_hc_envelope_lineage_trigger();
DELETE FROM iu_core_schema_migration WHERE version = '037';

COMMIT;
