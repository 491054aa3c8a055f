-- Revert 046: dot_iu_healthcheck() back to 002's body (a NULL verdict beside a true one reads green).
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/046_count_null_verdicts_in_dot_iu_healthcheck.down.sql
-- changes: dot_iu_healthcheck() replaced by 002's definition and comment,
--          ledger row 046
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 046 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 046 is pending again

\set down_version 046
BEGIN;
\ir _lib/guard.sql

-- 002's healthcheck, verbatim
CREATE OR REPLACE FUNCTION dot_iu_healthcheck()
RETURNS TABLE(surface text, ok boolean, detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
  r        record;
  v_ok     boolean;
  v_detail text;
  v_n      bigint;
BEGIN
  FOR r IN
    SELECT s.surface AS s_name, s.check_function AS s_fn
      FROM iu_healthcheck_surface s
     ORDER BY s.position
  LOOP
    BEGIN
      EXECUTE format('SELECT bool_and(c.ok), string_agg(c.detail, %L), count(*) FROM public.%I() AS c',
                     '; ', r.s_fn)
        INTO v_ok, v_detail, v_n;
      IF v_n = 0 THEN
        v_ok := false;
        v_detail := format('check %s returned no row', r.s_fn);
      ELSIF v_ok IS NULL THEN
        v_ok := false;
        v_detail := format('check %s returned ok = NULL: %s', r.s_fn, coalesce(v_detail, ''));
      END IF;
    EXCEPTION WHEN OTHERS THEN
      v_ok := false;
      v_detail := format('check %s raised %s: %s', r.s_fn, SQLSTATE, SQLERRM);
    END;
    surface := r.s_name;
    ok      := v_ok;
    detail  := v_detail;
    RETURN NEXT;
  END LOOP;
END
$fn$;

COMMENT ON FUNCTION dot_iu_healthcheck() IS
  'Operator healthcheck: one row per registered surface in position order; a check that raises yields ok=false with the error as detail.';

DELETE FROM iu_core_schema_migration WHERE version = '046';

COMMIT;
