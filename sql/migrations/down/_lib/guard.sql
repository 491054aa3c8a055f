-- sql/migrations/down/_lib/guard.sql: the one guard every down script includes.
--
-- The down script sets down_version (e.g. 040) and the hint for the revert before
-- it, then includes this file (\ir _lib/guard.sql) right after its BEGIN:
--   \set down_version 040
--   BEGIN;
--   \ir _lib/guard.sql
-- It refuses (IU012, psql exits 3, the transaction rolls back, nothing changed)
-- unless the migration ledger iu_core_schema_migration exists, records
-- down_version, and records no later migration: a down script only ever
-- reverts the applied head, newest first. The script ends by deleting its
-- ledger row (DELETE FROM iu_core_schema_migration WHERE version = …) and COMMIT,
-- after which the runner (make migrate / iu-migrate) re-applies it on request.

\set ON_ERROR_STOP on
\set QUIET on
\set SHOW_CONTEXT never

SELECT set_config('iu_down.version', :'down_version', true) AS down_version_set \gset
DO $guard$
DECLARE
  v_version text := current_setting('iu_down.version');
  v_later   text;
BEGIN
  IF v_version !~ '^[0-9]{3}$' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012', MESSAGE = format('revert refused: bad down_version %L', v_version);
  END IF;
  IF to_regclass('public.iu_core_schema_migration') IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012',
      MESSAGE = format('revert %s refused: no migration ledger iu_core_schema_migration in this database', v_version);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM iu_core_schema_migration m WHERE m.version = v_version) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012', MESSAGE = format('revert %s refused: migration %s is not applied', v_version, v_version);
  END IF;
  SELECT string_agg(m.version, ', ' ORDER BY m.version) INTO v_later
    FROM iu_core_schema_migration m WHERE m.version > v_version;
  IF v_later IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012',
      MESSAGE = format('revert %s refused: later migration(s) %s are applied', v_version, v_later),
      HINT = 'revert newer migrations first, newest first (sql/migrations/down/NNN_*.down.sql), so the runner can re-apply in order';
  END IF;
END
$guard$;
