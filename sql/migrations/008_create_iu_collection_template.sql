-- 008: collection templates (workflow | file), versioned, with a template digest.

CREATE TABLE iu_collection_template (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code            text NOT NULL CHECK (btrim(code) <> ''),
  -- int, not bigint: template versions are small ordinals.
  -- squawk-ignore prefer-bigint-over-int
  version         int  NOT NULL CHECK (version > 0),
  kind            text NOT NULL CHECK (kind IN ('workflow', 'file')),
  piece_codes     text[] NOT NULL CHECK (cardinality(piece_codes) > 0),
  template_digest text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (code, version)
);

COMMENT ON TABLE iu_collection_template IS
  'Collection templates: ordered piece codes and their digest, per code and version; instantiated by dot_iu_auto_instantiate_from_event.';

CREATE FUNCTION fn_iu_template_register(p_code text, p_version int, p_kind text, p_piece_codes text[])
RETURNS uuid
LANGUAGE plpgsql AS $fn$
DECLARE
  v_id      uuid;
  v_retired text;
BEGIN
  IF p_code IS NULL OR btrim(p_code) = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006', MESSAGE = 'template register refused: code is empty';
  END IF;
  IF p_version IS NULL OR p_version < 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('template register refused: version must be a positive integer (got %s)', coalesce(p_version::text, 'NULL'));
  END IF;
  IF p_kind IS NULL OR p_kind NOT IN ('workflow', 'file') THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('template register refused: kind must be workflow or file (got %s)', coalesce(quote_literal(p_kind), 'NULL'));
  END IF;
  IF EXISTS (SELECT 1 FROM iu_collection_template t WHERE t.code = p_code AND t.version = p_version) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('template register refused: %s@%s already registered', p_code, p_version),
      HINT = 'register a new version instead';
  END IF;
  IF p_piece_codes IS NULL OR cardinality(p_piece_codes) = 0 OR array_position(p_piece_codes, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('template register refused: piece list for %s@%s is empty or contains NULL', p_code, p_version);
  END IF;
  SELECT string_agg(DISTINCT u.code, ', ') INTO v_retired
    FROM unnest(p_piece_codes) AS t(code) JOIN information_unit u ON u.code = t.code
   WHERE u.lifecycle_state = 'retired';
  IF v_retired IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU005',
      MESSAGE = format('template register refused: retired piece(s): %s', v_retired);
  END IF;
  v_id := md5('template:' || p_code || '@' || p_version)::uuid;
  INSERT INTO iu_collection_template (id, code, version, kind, piece_codes, template_digest)
  VALUES (v_id, p_code, p_version, p_kind, p_piece_codes, fn_iu_pieces_digest(p_piece_codes));
  RETURN v_id;
END
$fn$;

COMMENT ON FUNCTION fn_iu_template_register(text, int, text, text[]) IS
  'Registers template code@version (id md5(''template:''||code||''@''||version)) over existing, non-retired pieces and stores its digest.';
