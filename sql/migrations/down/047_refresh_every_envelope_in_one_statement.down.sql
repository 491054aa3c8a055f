-- Revert 047: dot_iu_three_axis_envelope_refresh() back to 022's body (one compute call per collection).
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/047_refresh_every_envelope_in_one_statement.down.sql
-- changes: dot_iu_three_axis_envelope_refresh() replaced by 022's definition and comment,
--          ledger row 047
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 047 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 047 is pending again

\set down_version 047
BEGIN;
\ir _lib/guard.sql

-- 022's manual full refresh, verbatim
CREATE OR REPLACE FUNCTION dot_iu_three_axis_envelope_refresh() RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  v_ids uuid[];
BEGIN
  SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}') INTO v_ids
    FROM information_unit u WHERE u.kind = 'collection';
  PERFORM fn_iu_three_axis_envelope_store(v_ids);
  DELETE FROM iu_three_axis_envelope_dirty;
  INSERT INTO iu_three_axis_envelope_refresh_log (reason, refreshed_count, refreshed_collections)
  VALUES ('manual_full_refresh', cardinality(v_ids), v_ids);
  RETURN cardinality(v_ids);
END
$fn$;

COMMENT ON FUNCTION dot_iu_three_axis_envelope_refresh() IS
  'Operator command: recomputes every collection''s envelope, clears all dirty marks, logs one manual_full_refresh row; returns collections refreshed.';

DELETE FROM iu_core_schema_migration WHERE version = '047';

COMMIT;
