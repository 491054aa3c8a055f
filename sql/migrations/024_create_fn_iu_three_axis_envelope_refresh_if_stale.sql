-- 024: refresh-if-stale, the lifecycle trigger on information_unit, and the
-- gate iu_core.three_axis_auto_refresh_enabled (shipped false).

INSERT INTO iu_core_config (key, value, description) VALUES
  ('iu_core.three_axis_auto_refresh_enabled', 'false'::jsonb,
   'Gate: the lifecycle trigger (and 036 lineage trigger) call fn_iu_three_axis_envelope_refresh_if_stale only when true.');

CREATE FUNCTION fn_iu_three_axis_envelope_refresh_if_stale(p_reason text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  v_ids uuid[];
BEGIN
  IF p_reason IS NULL OR btrim(p_reason) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'envelope refresh refused: reason is empty';
  END IF;
  WITH taken AS (
    DELETE FROM iu_three_axis_envelope_dirty d RETURNING d.collection_id
  )
  SELECT array_agg(t.collection_id ORDER BY t.collection_id) INTO v_ids FROM taken t;
  IF v_ids IS NULL THEN
    RETURN false;
  END IF;
  PERFORM fn_iu_three_axis_envelope_store(v_ids);
  INSERT INTO iu_three_axis_envelope_refresh_log (reason, refreshed_count, refreshed_collections)
  VALUES (p_reason, cardinality(v_ids), v_ids);
  RETURN true;
END
$fn$;

COMMENT ON FUNCTION fn_iu_three_axis_envelope_refresh_if_stale(text) IS
  'Recomputes only dirty collections, clears their marks and logs one refresh row; returns false (writing nothing) when nothing is dirty.';

CREATE FUNCTION fn_iu_trg_lifecycle_envelope_dirty() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_reason text := format('lifecycle %s %s->%s', NEW.code, OLD.lifecycle_state, NEW.lifecycle_state);
BEGIN
  IF NEW.kind = 'piece' THEN
    PERFORM fn_iu_three_axis_envelope_mark_dirty(
      ARRAY(SELECT DISTINCT m.collection_id FROM iu_piece_membership m WHERE m.piece_id = NEW.id),
      v_reason);
  ELSE
    PERFORM fn_iu_three_axis_envelope_mark_dirty(ARRAY[NEW.id], v_reason);
  END IF;
  IF fn_iu_core_gate('iu_core.three_axis_auto_refresh_enabled') THEN
    PERFORM fn_iu_three_axis_envelope_refresh_if_stale('iu_lifecycle_trigger');
  END IF;
  RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION fn_iu_trg_lifecycle_envelope_dirty() IS
  'Trigger function: on a lifecycle change marks every collection holding the piece (or the collection itself) dirty, then refreshes if the auto-refresh gate is open.';

CREATE TRIGGER trg_information_unit_lifecycle_envelope
  AFTER UPDATE OF lifecycle_state ON information_unit
  FOR EACH ROW
  WHEN (OLD.lifecycle_state IS DISTINCT FROM NEW.lifecycle_state)
  EXECUTE FUNCTION fn_iu_trg_lifecycle_envelope_dirty();

COMMENT ON TRIGGER trg_information_unit_lifecycle_envelope ON information_unit IS
  'Lifecycle changes mark envelopes dirty and, gated by iu_core.three_axis_auto_refresh_enabled, refresh the stale ones.';

CREATE FUNCTION fn_iu_hc_envelope_lifecycle_trigger() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  r          record;
  v_problems text[] := '{}';
  v_found    record;
BEGIN
  FOR r IN
    SELECT x.tbl, x.trg, x.fn FROM (VALUES
      ('information_unit',    'trg_information_unit_lifecycle_envelope', 'fn_iu_trg_lifecycle_envelope_dirty'),
      ('iu_piece_membership', 'trg_iu_piece_membership_envelope_dirty',  'fn_iu_trg_membership_envelope_dirty')
    ) AS x(tbl, trg, fn)
  LOOP
    SELECT t.tgenabled AS en, p.proname AS fname INTO v_found
      FROM pg_trigger t
      JOIN pg_proc p ON p.oid = t.tgfoid
     WHERE t.tgrelid = to_regclass(format('public.%I', r.tbl))
       AND t.tgname = r.trg
       AND NOT t.tgisinternal;
    IF NOT FOUND THEN
      v_problems := v_problems || format('trigger %s on %s missing', r.trg, r.tbl);
    ELSIF v_found.en NOT IN ('O', 'A') THEN
      v_problems := v_problems || format('trigger %s on %s not enabled (tgenabled=%s)', r.trg, r.tbl, v_found.en);
    ELSIF v_found.fname <> r.fn THEN
      v_problems := v_problems || format('trigger %s on %s calls %s, expected %s', r.trg, r.tbl, v_found.fname, r.fn);
    END IF;
  END LOOP;
  ok := cardinality(v_problems) = 0;
  detail := CASE WHEN ok
    THEN format('trg_information_unit_lifecycle_envelope and trg_iu_piece_membership_envelope_dirty present, enabled, bound; auto-refresh gate %s',
                coalesce((SELECT CASE c.value WHEN 'true'::jsonb THEN 'open' WHEN 'false'::jsonb THEN 'closed' ELSE 'invalid' END
                            FROM iu_core_config c WHERE c.key = 'iu_core.three_axis_auto_refresh_enabled'), 'missing'))
    ELSE array_to_string(v_problems, '; ') END;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_envelope_lifecycle_trigger() IS
  'Healthcheck envelope_lifecycle_trigger: the lifecycle and membership dirty-marking triggers exist, are enabled and call the right functions.';

SELECT fn_iu_healthcheck_register('envelope_lifecycle_trigger', 'fn_iu_hc_envelope_lifecycle_trigger', 50, '024',
  'Lifecycle trigger on information_unit (and membership dirty trigger) present, enabled, bound to the right function.');
