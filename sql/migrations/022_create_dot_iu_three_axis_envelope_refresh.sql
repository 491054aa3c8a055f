-- 022: manual full envelope refresh and the DIEU invariant surface.

CREATE FUNCTION dot_iu_three_axis_envelope_refresh() RETURNS int
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

CREATE FUNCTION fn_iu_hc_dieu_envelope_invariant() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_id    uuid;
  e       record;
  v_dirty timestamptz;
BEGIN
  SELECT u.id INTO v_id FROM information_unit u WHERE u.code = 'DIEU' AND u.kind = 'collection';
  IF NOT FOUND THEN
    ok := false; detail := 'collection DIEU missing'; RETURN NEXT; RETURN;
  END IF;
  SELECT x.axis_a_count AS a, x.axis_b_count AS b, x.axis_c_count AS c INTO e
    FROM iu_three_axis_envelope x WHERE x.collection_id = v_id;
  IF NOT FOUND THEN
    ok := false; detail := 'DIEU has no cached envelope row (run dot_iu_three_axis_envelope_refresh)'; RETURN NEXT; RETURN;
  END IF;
  SELECT d.marked_at INTO v_dirty FROM iu_three_axis_envelope_dirty d WHERE d.collection_id = v_id;
  ok := (e.a, e.b, e.c) = (27, 23, 36);
  detail := format('DIEU cached envelope %s/%s/%s (expected 27/23/36)%s', e.a, e.b, e.c,
                   CASE WHEN v_dirty IS NULL THEN '' ELSE format('; marked dirty since %s', v_dirty) END);
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_dieu_envelope_invariant() IS
  'Healthcheck dieu_envelope_invariant: the cached envelope of collection DIEU is 27/23/36; red if DIEU or its row is missing.';

SELECT fn_iu_healthcheck_register('dieu_envelope_invariant', 'fn_iu_hc_dieu_envelope_invariant', 30, '022',
  'Cached envelope of the DIEU collection equals 27/23/36.');
