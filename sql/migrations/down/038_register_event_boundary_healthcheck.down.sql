-- Revert 038: drop the internal-only event boundary: its facts, assert, healthcheck surface,
-- route rollback function and removal log.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/038_register_event_boundary_healthcheck.down.sql
-- changes: surface event_boundary_internal_only, fn_iu_hc_event_boundary_internal_only(),
--          fn_iu_event_boundary_unregister_internal_routes(boolean, text, text),
--          fn_iu_event_boundary_assert/_violations/_facts(text), table route_registry_removal_log,
--          ledger row 038. Refused (IU012) while route_registry_removal_log holds rows: they
--          are the only record of removed routes; copy them out first if the revert must go on
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 038 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 038 is pending again

\set down_version 038
BEGIN;
\ir _lib/guard.sql

DO $down$
DECLARE
  v_rows bigint;
BEGIN
  SELECT count(*) INTO v_rows FROM route_registry_removal_log;
  IF v_rows > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU012',
      MESSAGE = format('revert 038 refused: route_registry_removal_log holds %s row(s), the record of removed routes', v_rows),
      HINT = 'copy them out first (\copy route_registry_removal_log TO ''removed-routes.csv'' CSV HEADER), then TRUNCATE it and rerun';
  END IF;
END
$down$;
DELETE FROM iu_healthcheck_surface WHERE surface = 'event_boundary_internal_only';
DROP FUNCTION fn_iu_hc_event_boundary_internal_only();
DROP FUNCTION fn_iu_event_boundary_unregister_internal_routes(boolean, text, text);
DROP FUNCTION fn_iu_event_boundary_assert(text);
DROP FUNCTION fn_iu_event_boundary_violations(text);
DROP FUNCTION fn_iu_event_boundary_facts(text);
DROP TABLE route_registry_removal_log;
DELETE FROM iu_core_schema_migration WHERE version = '038';

COMMIT;
