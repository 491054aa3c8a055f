-- 002: healthcheck registry. Later migrations register surfaces; the
-- aggregate dot_iu_healthcheck() is never edited to add one.

CREATE TABLE iu_healthcheck_surface (
  surface        text PRIMARY KEY CHECK (surface ~ '^[a-z][a-z0-9_]*$'),
  check_function text NOT NULL CHECK (btrim(check_function) <> ''),
  -- int, not bigint: positions order a handful of healthcheck surfaces.
  -- squawk-ignore prefer-bigint-over-int
  position       int  NOT NULL UNIQUE CHECK (position > 0),
  registered_in  text NOT NULL,
  description    text NOT NULL
);

COMMENT ON TABLE iu_healthcheck_surface IS
  'Healthcheck registry: one row per surface; check_function names a public function with no arguments returning TABLE(ok boolean, detail text).';

CREATE FUNCTION fn_iu_healthcheck_register(
  p_surface text, p_check_function text, p_position int, p_registered_in text, p_description text)
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_proc regprocedure;
BEGIN
  IF p_surface IS NULL OR p_check_function IS NULL OR p_position IS NULL
     OR p_registered_in IS NULL OR p_description IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = 'healthcheck register refused: every argument is required';
  END IF;
  v_proc := to_regprocedure(format('public.%I()', p_check_function));
  IF v_proc IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('healthcheck register refused: function public.%I() does not exist', p_check_function),
      HINT = 'create the check function (no arguments, RETURNS TABLE(ok boolean, detail text)) first';
  END IF;
  IF pg_get_function_result(v_proc) IS DISTINCT FROM 'TABLE(ok boolean, detail text)' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('healthcheck register refused: %s returns %s, expected TABLE(ok boolean, detail text)',
                       v_proc, pg_get_function_result(v_proc));
  END IF;
  IF EXISTS (SELECT 1 FROM iu_healthcheck_surface s WHERE s.surface = p_surface) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('healthcheck register refused: surface %s already registered', p_surface);
  END IF;
  IF EXISTS (SELECT 1 FROM iu_healthcheck_surface s WHERE s.position = p_position) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('healthcheck register refused: position %s already taken', p_position);
  END IF;
  INSERT INTO iu_healthcheck_surface (surface, check_function, position, registered_in, description)
  VALUES (p_surface, p_check_function, p_position, p_registered_in, p_description);
END
$fn$;

COMMENT ON FUNCTION fn_iu_healthcheck_register(text, text, int, text, text) IS
  'Registers a healthcheck surface after checking its check function exists with the TABLE(ok boolean, detail text) shape.';

CREATE FUNCTION dot_iu_healthcheck()
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
