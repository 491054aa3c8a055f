-- 023: membership changes mark the affected collection dirty; backlog surface.

CREATE FUNCTION fn_iu_trg_membership_envelope_dirty() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM fn_iu_three_axis_envelope_mark_dirty(ARRAY[NEW.collection_id], 'membership_insert');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM fn_iu_three_axis_envelope_mark_dirty(ARRAY[OLD.collection_id], 'membership_delete');
  ELSE
    PERFORM fn_iu_three_axis_envelope_mark_dirty(ARRAY[NEW.collection_id, OLD.collection_id], 'membership_update');
  END IF;
  RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION fn_iu_trg_membership_envelope_dirty() IS
  'Trigger function: marks the collection(s) of an inserted/updated/deleted membership row dirty.';

CREATE TRIGGER trg_iu_piece_membership_envelope_dirty
  AFTER INSERT OR UPDATE OR DELETE ON iu_piece_membership
  FOR EACH ROW EXECUTE FUNCTION fn_iu_trg_membership_envelope_dirty();

COMMENT ON TRIGGER trg_iu_piece_membership_envelope_dirty ON iu_piece_membership IS
  'Membership changes mark the affected collection''s envelope dirty (no recompute).';

CREATE FUNCTION fn_iu_hc_envelope_backlog() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_n      bigint;
  v_oldest timestamptz;
  v_stale  bigint;
  v_names  text;
BEGIN
  SELECT count(*), min(d.marked_at) INTO v_n, v_oldest FROM iu_three_axis_envelope_dirty d;
  SELECT count(*) INTO v_stale FROM iu_three_axis_envelope_dirty d WHERE d.marked_at < now() - interval '24 hours';
  IF v_stale > 0 THEN
    SELECT string_agg(format('%s (since %s)', coalesce(u.code, d.collection_id::text), d.marked_at), ', ' ORDER BY d.marked_at)
      INTO v_names
      FROM (SELECT * FROM iu_three_axis_envelope_dirty x
             WHERE x.marked_at < now() - interval '24 hours'
             ORDER BY x.marked_at LIMIT 10) d
      LEFT JOIN information_unit u ON u.id = d.collection_id;
    ok := false;
    detail := format('%s dirty collection(s), %s dirty for more than 24 hours: %s', v_n, v_stale, v_names);
  ELSE
    ok := true;
    detail := CASE WHEN v_n = 0 THEN '0 dirty collections'
                   ELSE format('%s dirty collection(s), oldest marked %s', v_n, v_oldest) END;
  END IF;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_envelope_backlog() IS
  'Healthcheck envelope_backlog: reports the number of dirty collections; red when a mark is older than 24 hours (names them).';

SELECT fn_iu_healthcheck_register('envelope_backlog', 'fn_iu_hc_envelope_backlog', 40, '023',
  'Number of dirty envelope collections; red when any dirty mark is older than 24 hours.');
