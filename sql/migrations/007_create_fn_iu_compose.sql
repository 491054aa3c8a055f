-- 007: composing a collection from ordered piece codes.

CREATE FUNCTION fn_iu_compose_validate(p_code text, p_piece_codes text[]) RETURNS void
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

COMMENT ON FUNCTION fn_iu_compose_validate(text, text[]) IS
  'Raises (IU006 bad code/list, IU005 unknown/non-piece/retired piece) unless fn_iu_compose would succeed; writes nothing.';

CREATE FUNCTION fn_iu_compose(p_code text, p_piece_codes text[], p_actor text) RETURNS uuid
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

COMMENT ON FUNCTION fn_iu_compose(text, text[], text) IS
  'Creates a collection (id md5(''collection:''||code)) with its ordered memberships; any invalid input raises and writes nothing.';
