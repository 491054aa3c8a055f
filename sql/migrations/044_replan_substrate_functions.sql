-- 044: the substrate costs what it touches inside a long transaction.
--
-- 1. Plans made against the tables a transaction started with. The per-call
--    substrate functions (006 digests, 007 compose, 020 envelope primitives,
--    024 refresh-if-stale and lifecycle trigger) are plpgsql or SQL functions
--    whose statement plans are cached: a generic plan made while a table holds
--    a few pages seq-scans it, and keeps doing so while one transaction grows it
--    by thousands of rows (N^2 over a batch). Each is replaced, same signature,
--    same behaviour, with plan_cache_mode = force_custom_plan, so every
--    statement (and every foreign-key check it fires) is planned against the
--    table sizes of the moment; fn_iu_membership_digest becomes plpgsql so the
--    setting reaches its query. fn_iu_three_axis_envelope_compute, called once
--    per collection by a full refresh, keeps cached plans made of key lookups
--    instead (enable_seqscan and enable_bitmapscan off), re-planned never. 042's ANALYZE + DISCARD PLANS stays where it
--    is applied (fn_iu_bounded_scaleout) and is no longer needed for linearity.
-- 2. The dirty-set DELETE of refresh-if-stale. Each refresh deleted the whole
--    dirty set, scanning every mark the transaction had already consumed (dead
--    to it, but not yet to VACUUM): O(batch) per refresh. A refresh now records
--    the newest marked_at it consumed in a transaction-local setting
--    (iu_envelope.refreshed_through), and the next refresh in the same
--    transaction deletes only marks at or after it, through 020's marked_at
--    index. The first refresh of a transaction still takes the whole dirty set.
--    A mark committed by another session with an older marked_at after this
--    transaction's first refresh stays dirty (never lost) for the next
--    transaction's refresh or the manual refresh, like any later mark. No
--    sequence: a rolled-back transaction leaves nothing behind (pg_dump of a
--    database the proofs ran against stays byte-identical).
--
-- Revert: sql/migrations/down/044_replan_substrate_functions.down.sql.

-- 006 ------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION fn_iu_membership_digest(p_collection_id uuid) RETURNS text
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_unit c
                  WHERE c.id = p_collection_id AND c.kind = 'collection') THEN
    RETURN NULL;
  END IF;
  RETURN fn_iu_sha256_hex(coalesce(
           (SELECT string_agg(p.code || ':' || p.content_digest, E'\n' ORDER BY m.position)
              FROM iu_piece_membership m
              JOIN information_unit p ON p.id = m.piece_id
             WHERE m.collection_id = p_collection_id), ''));
END
$fn$;

CREATE OR REPLACE FUNCTION fn_iu_pieces_digest(p_piece_codes text[]) RETURNS text
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
  v_missing text;
  v_notpiece text;
BEGIN
  IF p_piece_codes IS NULL OR cardinality(p_piece_codes) = 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'digest refused: piece list is empty';
  END IF;
  IF array_position(p_piece_codes, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'digest refused: piece list contains NULL';
  END IF;
  SELECT string_agg(DISTINCT t.code, ', ') INTO v_missing
    FROM unnest(p_piece_codes) AS t(code)
   WHERE NOT EXISTS (SELECT 1 FROM information_unit u WHERE u.code = t.code);
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU005', MESSAGE = format('digest refused: unknown piece(s): %s', v_missing);
  END IF;
  SELECT string_agg(DISTINCT u.code, ', ') INTO v_notpiece
    FROM unnest(p_piece_codes) AS t(code) JOIN information_unit u ON u.code = t.code
   WHERE u.kind <> 'piece';
  IF v_notpiece IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU005', MESSAGE = format('digest refused: not a piece: %s', v_notpiece);
  END IF;
  RETURN fn_iu_sha256_hex(
    (SELECT string_agg(u.code || ':' || u.content_digest, E'\n' ORDER BY t.ord)
       FROM unnest(p_piece_codes) WITH ORDINALITY AS t(code, ord)
       JOIN information_unit u ON u.code = t.code));
END
$fn$;

-- 007 ------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION fn_iu_compose_validate(p_code text, p_piece_codes text[]) RETURNS void
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
  v_list text;
BEGIN
  IF p_code IS NULL OR btrim(p_code) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'compose refused: collection code is empty';
  END IF;
  IF EXISTS (SELECT 1 FROM information_unit u WHERE u.code = p_code) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('compose refused: code %L already exists', p_code),
      HINT = 'collection codes are unique across all information units';
  END IF;
  IF p_piece_codes IS NULL OR cardinality(p_piece_codes) = 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = format('compose refused: piece list for %s is empty', p_code);
  END IF;
  IF array_position(p_piece_codes, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = format('compose refused: piece list for %s contains NULL', p_code);
  END IF;
  SELECT string_agg(DISTINCT t.code, ', ') INTO v_list
    FROM unnest(p_piece_codes) AS t(code)
   WHERE NOT EXISTS (SELECT 1 FROM information_unit u WHERE u.code = t.code);
  IF v_list IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU005', MESSAGE = format('compose refused: unknown piece(s): %s', v_list);
  END IF;
  SELECT string_agg(DISTINCT u.code, ', ') INTO v_list
    FROM unnest(p_piece_codes) AS t(code) JOIN information_unit u ON u.code = t.code
   WHERE u.kind <> 'piece';
  IF v_list IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU005', MESSAGE = format('compose refused: not a piece: %s', v_list);
  END IF;
  SELECT string_agg(DISTINCT u.code, ', ') INTO v_list
    FROM unnest(p_piece_codes) AS t(code) JOIN information_unit u ON u.code = t.code
   WHERE u.lifecycle_state = 'retired';
  IF v_list IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU005', MESSAGE = format('compose refused: retired piece(s): %s', v_list),
      HINT = 'retired pieces cannot enter new collections';
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION fn_iu_compose(p_code text, p_piece_codes text[], p_actor text) RETURNS uuid
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
  v_id uuid;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  PERFORM fn_iu_compose_validate(p_code, p_piece_codes);
  v_id := md5('collection:' || p_code)::uuid;
  INSERT INTO information_unit (id, code, kind, lifecycle_state, created_by)
  VALUES (v_id, p_code, 'collection', 'active', p_actor);
  INSERT INTO iu_piece_membership (collection_id, piece_id, position)
  SELECT v_id, u.id, t.ord::int
    FROM unnest(p_piece_codes) WITH ORDINALITY AS t(code, ord)
    JOIN information_unit u ON u.code = t.code
   ORDER BY t.ord;
  RETURN v_id;
END
$fn$;

-- 020 ------------------------------------------------------------------------

-- compute runs once per collection in a manual full refresh (every collection):
-- re-planning it per call would cost more than the work, so its plans stay
-- cached and are made key lookups whatever the statistics say
CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_compute(p_collection_id uuid)
RETURNS TABLE(axis_a_count int, axis_b_count int, axis_c_count int)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_unit c WHERE c.id = p_collection_id AND c.kind = 'collection') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('envelope compute refused: %s is not a collection', coalesce(p_collection_id::text, 'NULL'));
  END IF;
  RETURN QUERY
  SELECT count(DISTINCT p.axis_a)::int, count(DISTINCT p.axis_b)::int, count(DISTINCT p.axis_c)::int
    FROM iu_piece_membership m
    JOIN information_unit p ON p.id = m.piece_id
   WHERE m.collection_id = p_collection_id
     AND p.kind = 'piece'
     AND p.lifecycle_state = 'active';
END
$fn$;

CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_store(p_collection_ids uuid[]) RETURNS int
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
  v_n int;
BEGIN
  INSERT INTO iu_three_axis_envelope AS e (collection_id, axis_a_count, axis_b_count, axis_c_count, refreshed_at)
  SELECT c.id, x.axis_a_count, x.axis_b_count, x.axis_c_count, clock_timestamp()
    FROM (SELECT DISTINCT u.id FROM unnest(p_collection_ids) AS u(id)) c
    CROSS JOIN LATERAL fn_iu_three_axis_envelope_compute(c.id) x
  ON CONFLICT (collection_id) DO UPDATE
     SET axis_a_count = EXCLUDED.axis_a_count,
         axis_b_count = EXCLUDED.axis_b_count,
         axis_c_count = EXCLUDED.axis_c_count,
         refreshed_at = EXCLUDED.refreshed_at;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$fn$;

CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_mark_dirty(p_collection_ids uuid[], p_reason text) RETURNS int
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
  v_n int;
BEGIN
  INSERT INTO iu_three_axis_envelope_dirty (collection_id, marked_at, reason)
  SELECT DISTINCT u.id, clock_timestamp(), p_reason
    FROM unnest(p_collection_ids) AS u(id)
   WHERE u.id IS NOT NULL
  ON CONFLICT (collection_id) DO NOTHING;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$fn$;

-- 024 ------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_refresh_if_stale(p_reason text) RETURNS boolean
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
-- the dirty table's statistics say "empty" while a batch fills it with dead
-- marks: the range delete must go through marked_at's index, never a scan
SET enable_seqscan = off
AS $fn$
DECLARE
  v_ids     uuid[];
  v_through timestamptz := nullif(current_setting('iu_envelope.refreshed_through', true), '')::timestamptz;
  v_max     timestamptz;
BEGIN
  IF p_reason IS NULL OR btrim(p_reason) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'envelope refresh refused: reason is empty';
  END IF;
  IF v_through IS NULL THEN
    -- first refresh of this transaction: the whole dirty set
    WITH taken AS (
      DELETE FROM iu_three_axis_envelope_dirty d RETURNING d.collection_id, d.marked_at
    )
    SELECT array_agg(t.collection_id ORDER BY t.collection_id), max(t.marked_at) INTO v_ids, v_max FROM taken t;
  ELSE
    -- later refreshes: only the marks written since, through the index; the
    -- marks this transaction already consumed are never visited again
    WITH taken AS (
      DELETE FROM iu_three_axis_envelope_dirty d WHERE d.marked_at >= v_through
      RETURNING d.collection_id, d.marked_at
    )
    SELECT array_agg(t.collection_id ORDER BY t.collection_id), max(t.marked_at) INTO v_ids, v_max FROM taken t;
  END IF;
  PERFORM set_config('iu_envelope.refreshed_through',
                     coalesce(greatest(v_through, v_max), '-infinity'::timestamptz)::text, true);
  IF v_ids IS NULL THEN
    RETURN false;
  END IF;
  PERFORM fn_iu_three_axis_envelope_store(v_ids);
  INSERT INTO iu_three_axis_envelope_refresh_log (reason, refreshed_count, refreshed_collections)
  VALUES (p_reason, cardinality(v_ids), v_ids);
  RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION fn_iu_trg_lifecycle_envelope_dirty() RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $fn$
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

-- 033: the orchestrator's own inserts fire foreign-key checks on information_unit
ALTER FUNCTION dot_iu_auto_instantiate_from_event(text, text, boolean, int, text)
  SET plan_cache_mode = force_custom_plan;

COMMENT ON FUNCTION fn_iu_three_axis_envelope_refresh_if_stale(text) IS
  'Recomputes only dirty collections, clears their marks and logs one refresh row; returns false (writing nothing) when nothing is dirty. Within one transaction a refresh after the first takes only the marks numbered above the last one consumed (044).';
