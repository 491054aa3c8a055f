-- Revert 044: the substrate functions of 006, 007, 020 and 024 get their
-- bodies back as those migrations wrote them (no plan_cache_mode, the
-- whole-set dirty DELETE) and 033's orchestrator loses its plan_cache_mode.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/044_replan_substrate_functions.down.sql
-- changes: nine functions replaced, one ALTER FUNCTION, ledger row 044 (one transaction; refused by the shared guard _lib/guard.sql,
--          writing nothing, unless 044 is the applied head). Dirty marks themselves stay.
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 044 is pending again

\set down_version 044
BEGIN;
\ir _lib/guard.sql

-- as 006
CREATE OR REPLACE FUNCTION fn_iu_membership_digest(p_collection_id uuid) RETURNS text
LANGUAGE sql STABLE AS $fn$
  SELECT CASE
           WHEN NOT EXISTS (SELECT 1 FROM information_unit c
                             WHERE c.id = p_collection_id AND c.kind = 'collection') THEN NULL
           ELSE fn_iu_sha256_hex(coalesce(
                  (SELECT string_agg(p.code || ':' || p.content_digest, E'\n' ORDER BY m.position)
                     FROM iu_piece_membership m
                     JOIN information_unit p ON p.id = m.piece_id
                    WHERE m.collection_id = p_collection_id), ''))
         END
$fn$;

-- as 006
CREATE OR REPLACE FUNCTION fn_iu_pieces_digest(p_piece_codes text[]) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
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

-- as 007
CREATE OR REPLACE FUNCTION fn_iu_compose_validate(p_code text, p_piece_codes text[]) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
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

-- as 007
CREATE OR REPLACE FUNCTION fn_iu_compose(p_code text, p_piece_codes text[], p_actor text) RETURNS uuid
LANGUAGE plpgsql AS $fn$
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

-- as 020
CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_compute(p_collection_id uuid)
RETURNS TABLE(axis_a_count int, axis_b_count int, axis_c_count int)
LANGUAGE plpgsql STABLE AS $fn$
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

-- as 020
CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_store(p_collection_ids uuid[]) RETURNS int
LANGUAGE plpgsql AS $fn$
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

-- as 020
CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_mark_dirty(p_collection_ids uuid[], p_reason text) RETURNS int
LANGUAGE plpgsql AS $fn$
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

-- as 024
CREATE OR REPLACE FUNCTION fn_iu_three_axis_envelope_refresh_if_stale(p_reason text) RETURNS boolean
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

-- as 024
CREATE OR REPLACE FUNCTION fn_iu_trg_lifecycle_envelope_dirty() RETURNS trigger
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

COMMENT ON FUNCTION fn_iu_three_axis_envelope_refresh_if_stale(text) IS
  'Recomputes only dirty collections, clears their marks and logs one refresh row; returns false (writing nothing) when nothing is dirty.';

ALTER FUNCTION dot_iu_auto_instantiate_from_event(text, text, boolean, int, text) RESET plan_cache_mode;

DELETE FROM iu_core_schema_migration WHERE version = '044';

COMMIT;
