-- 006: membership digests. Both functions hash the same text
-- (code || ':' || content_digest per piece, newline-joined, in order), so an
-- instance composed from a template's pieces has instance digest = template digest.

CREATE FUNCTION fn_iu_membership_digest(p_collection_id uuid) RETURNS text
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

COMMENT ON FUNCTION fn_iu_membership_digest(uuid) IS
  'Hex sha256 of a collection''s ordered pieces (code:content_digest, newline-joined); NULL when the id is not a collection.';

CREATE FUNCTION fn_iu_pieces_digest(p_piece_codes text[]) RETURNS text
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

COMMENT ON FUNCTION fn_iu_pieces_digest(text[]) IS
  'Hex sha256 of an ordered list of piece codes, computed exactly like fn_iu_membership_digest; unknown/non-piece code raises IU005.';
