-- 046: a surface whose check returns a NULL verdict in any row is red.
--
-- dot_iu_healthcheck() (002) folded a check's rows with bool_and(ok), which
-- skips NULLs: a check returning one row ok = true and another ok = NULL made
-- its surface green, and only a check whose every row was NULL turned red. A
-- NULL verdict means the check could not decide, so the surface is red when any
-- row's ok is NULL, with the number of such rows in the detail. The rest is
-- 002's function unchanged: same signature, rows in position order, a check
-- that returns no row or raises is red and named.
-- Revert: down/046_count_null_verdicts_in_dot_iu_healthcheck.down.sql.

CREATE OR REPLACE FUNCTION dot_iu_healthcheck()
RETURNS TABLE(surface text, ok boolean, detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
  r        record;
  v_ok     boolean;
  v_detail text;
  v_n      bigint;
  v_null   bigint;
BEGIN
  FOR r IN
    SELECT s.surface AS s_name, s.check_function AS s_fn
      FROM iu_healthcheck_surface s
     ORDER BY s.position
  LOOP
    BEGIN
      EXECUTE format('SELECT bool_and(c.ok), string_agg(c.detail, %L), count(*), count(*) FILTER (WHERE c.ok IS NULL) '
                     'FROM public.%I() AS c', '; ', r.s_fn)
        INTO v_ok, v_detail, v_n, v_null;
      IF v_n = 0 THEN
        v_ok := false;
        v_detail := format('check %s returned no row', r.s_fn);
      ELSIF v_null > 0 THEN
        v_ok := false;
        v_detail := format('check %s returned ok = NULL%s: %s', r.s_fn,
                           CASE WHEN v_null < v_n THEN format(' in %s of %s rows', v_null, v_n) ELSE '' END,
                           coalesce(v_detail, ''));
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
  'Operator healthcheck: one row per registered surface in position order; a check that raises, returns no row or returns ok = NULL in any row yields ok=false with the reason as detail.';
