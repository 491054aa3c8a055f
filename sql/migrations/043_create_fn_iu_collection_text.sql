-- 043: text-as-code for collections (package E).
--
-- fn_iu_collection_export_text(code) renders a collection in a canonical,
-- byte-stable text form; fn_iu_collection_import_text(text, new_code, actor)
-- composes it back through fn_iu_compose, checking every digest, so the
-- roundtrip reproduces the collection's digest. The form (LF line ends, a
-- final LF, no timestamps):
--
--   iu-collection-text 1
--   collection: <collection code>
--   template: <template code>@<version>      ('-' when not a template instance)
--   template-kind: workflow|file             ('-' likewise)
--   template-digest: <hex sha256>            ('-' likewise)
--   digest: <hex sha256 membership digest>
--   pieces: <count>
--   <piece code><TAB><piece content digest>  (one line per piece, in position order)
--
-- An instance's template lines come from its lineage row; importing a text
-- that names a template writes a lineage row for the new collection (actor =
-- the importer), so it is an addressable instance again and exports to the
-- same text. Refusals: IU026 cannot export, IU027 malformed text, IU028 the
-- text does not match the database (piece, template or collection digest);
-- unknown template IU004, unknown or retired piece IU005, bad actor IU003.

CREATE FUNCTION fn_iu_collection_export_text(p_code text) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  c        information_unit%ROWTYPE;
  l        iu_collection_template_instance_lineage%ROWTYPE;
  v_kind   text;
  v_n      int;
  v_lines  text;
  v_bad    text;
BEGIN
  SELECT u.* INTO c FROM information_unit u WHERE u.code = p_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU026',
      MESSAGE = format('export refused: unknown collection %s', coalesce(quote_literal(left(p_code, 60)), 'NULL'));
  END IF;
  IF c.kind <> 'collection' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU026',
      MESSAGE = format('export refused: %L is a %s, not a collection', left(p_code, 60), c.kind);
  END IF;
  IF c.code ~ '[\t\n\r]' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU026',
      MESSAGE = format('export refused: collection code %L contains a tab or line break', left(p_code, 60));
  END IF;
  SELECT string_agg(DISTINCT p.code, ', ') INTO v_bad
    FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
   WHERE m.collection_id = c.id AND p.code ~ '[\t\n\r]';
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU026',
      MESSAGE = format('export refused: piece code(s) with a tab or line break: %s', left(v_bad, 120));
  END IF;

  SELECT x.* INTO l FROM iu_collection_template_instance_lineage x WHERE x.instance_collection_id = c.id;
  IF FOUND THEN
    SELECT t.kind INTO v_kind FROM iu_collection_template t WHERE t.id = l.template_id;
  END IF;

  SELECT count(*)::int, coalesce(string_agg(p.code || E'\t' || p.content_digest || E'\n', '' ORDER BY m.position), '')
    INTO v_n, v_lines
    FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
   WHERE m.collection_id = c.id;

  RETURN 'iu-collection-text 1' || E'\n'
      || 'collection: ' || c.code || E'\n'
      || 'template: ' || coalesce(l.template_code || '@' || l.template_version, '-') || E'\n'
      || 'template-kind: ' || coalesce(v_kind, '-') || E'\n'
      || 'template-digest: ' || coalesce(l.template_digest, '-') || E'\n'
      || 'digest: ' || fn_iu_membership_digest(c.id) || E'\n'
      || 'pieces: ' || v_n || E'\n'
      || v_lines;
END
$fn$;

COMMENT ON FUNCTION fn_iu_collection_export_text(text) IS
  'Text-as-code export: the canonical, byte-stable text of a collection (header: collection, template code@version, kind, template digest, digest, piece count; then one "code<TAB>content digest" line per piece in order). IU026 when it cannot be exported.';

CREATE FUNCTION fn_iu_collection_text_parse(p_text text)
RETURNS TABLE(collection_code text, template_code text, template_version int, template_kind text,
              template_digest text, digest text, piece_codes text[], piece_digests text[])
LANGUAGE plpgsql IMMUTABLE AS $fn$
#variable_conflict use_column
DECLARE
  v_lines  text[];
  v_keys   text[] := ARRAY['collection', 'template', 'template-kind', 'template-digest', 'digest', 'pieces'];
  v_vals   text[] := '{}';
  v_m      text[];
  v_count  int;
  i        int;
BEGIN
  IF p_text IS NULL OR p_text = '' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU027', MESSAGE = 'import refused: the text is empty',
      HINT = 'pass the output of fn_iu_collection_export_text (export_instance.sql)';
  END IF;
  IF strpos(p_text, E'\r') > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'IU027', MESSAGE = 'import refused: the text contains carriage returns',
      HINT = 'the canonical form uses LF line ends only';
  END IF;
  v_lines := string_to_array(p_text, E'\n');
  IF v_lines[cardinality(v_lines)] = '' THEN  -- the final LF (optional on input)
    v_lines := v_lines[1:cardinality(v_lines) - 1];
  END IF;
  IF v_lines[1] IS DISTINCT FROM 'iu-collection-text 1' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU027',
      MESSAGE = format('import refused: line 1 is %L, expected "iu-collection-text 1"', left(coalesce(v_lines[1], ''), 60));
  END IF;
  FOR i IN 1 .. cardinality(v_keys) LOOP
    v_m := regexp_match(coalesce(v_lines[i + 1], ''), '^([a-z-]+): (.+)$');
    IF v_m IS NULL OR v_m[1] <> v_keys[i] THEN
      RAISE EXCEPTION USING ERRCODE = 'IU027',
        MESSAGE = format('import refused: line %s is %L, expected "%s: <value>"', i + 1,
                         left(coalesce(v_lines[i + 1], '<end of text>'), 60), v_keys[i]);
    END IF;
    v_vals := v_vals || v_m[2];
  END LOOP;

  collection_code := v_vals[1];
  IF v_vals[2] = '-' THEN
    IF (v_vals[3], v_vals[4]) IS DISTINCT FROM ('-', '-') THEN
      RAISE EXCEPTION USING ERRCODE = 'IU027',
        MESSAGE = 'import refused: template is "-" but template-kind or template-digest is not';
    END IF;
  ELSE
    v_m := regexp_match(v_vals[2], '^(.+)@([0-9]{1,9})$');
    IF v_m IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'IU027',
        MESSAGE = format('import refused: template %L is not "<code>@<version>" or "-"', left(v_vals[2], 60));
    END IF;
    IF v_vals[3] NOT IN ('workflow', 'file') THEN
      RAISE EXCEPTION USING ERRCODE = 'IU027',
        MESSAGE = format('import refused: template-kind %L is not workflow or file', left(v_vals[3], 60));
    END IF;
    IF v_vals[4] !~ '^[0-9a-f]{64}$' THEN
      RAISE EXCEPTION USING ERRCODE = 'IU027',
        MESSAGE = format('import refused: template-digest %L is not a hex sha256', left(v_vals[4], 70));
    END IF;
    template_code    := v_m[1];
    template_version := v_m[2]::int;
    template_kind    := v_vals[3];
    template_digest  := v_vals[4];
  END IF;
  IF v_vals[5] !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU027',
      MESSAGE = format('import refused: digest %L is not a hex sha256', left(v_vals[5], 70));
  END IF;
  digest := v_vals[5];
  IF v_vals[6] !~ '^[0-9]{1,9}$' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU027',
      MESSAGE = format('import refused: pieces %L is not a count', left(v_vals[6], 60));
  END IF;
  v_count := v_vals[6]::int;
  IF cardinality(v_lines) - 7 <> v_count THEN
    RAISE EXCEPTION USING ERRCODE = 'IU027',
      MESSAGE = format('import refused: header says %s piece(s), the text has %s piece line(s)', v_count, cardinality(v_lines) - 7);
  END IF;
  piece_codes := '{}';
  piece_digests := '{}';
  FOR i IN 8 .. cardinality(v_lines) LOOP
    v_m := regexp_match(v_lines[i], '^([^\t]+)\t([0-9a-f]{64})$');
    IF v_m IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'IU027',
        MESSAGE = format('import refused: line %s is %L, expected "<piece code><TAB><content digest>"', i, left(v_lines[i], 60));
    END IF;
    piece_codes := piece_codes || v_m[1];
    piece_digests := piece_digests || v_m[2];
  END LOOP;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_collection_text_parse(text) IS
  'Parses the canonical collection text (see fn_iu_collection_export_text) strictly into its header fields and ordered pieces; IU027 naming the first malformed line. Reads no table.';

CREATE FUNCTION fn_iu_collection_import_text(p_text text, p_new_code text, p_actor text) RETURNS uuid
LANGUAGE plpgsql AS $fn$
DECLARE
  h        record;
  t        iu_collection_template%ROWTYPE;
  v_code   text;
  v_bad    text;
  v_digest text;
  v_id     uuid;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  SELECT x.* INTO h FROM fn_iu_collection_text_parse(p_text) AS x;
  v_code := coalesce(p_new_code, h.collection_code);

  -- every piece carries the content the text was exported with
  SELECT string_agg(format('%s (text %s…, database %s…)', x.code, left(x.dg, 12), left(u.content_digest, 12)), ', ' ORDER BY x.ord)
    INTO v_bad
    FROM unnest(h.piece_codes, h.piece_digests) WITH ORDINALITY AS x(code, dg, ord)
    JOIN information_unit u ON u.code = x.code AND u.kind = 'piece'
   WHERE u.content_digest <> x.dg;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'IU028',
      MESSAGE = format('import refused: piece content changed since export: %s', left(v_bad, 300));
  END IF;
  -- unknown, non-piece or retired pieces: fn_iu_compose_validate names them (IU005)
  PERFORM fn_iu_compose_validate(v_code, h.piece_codes);
  v_digest := fn_iu_pieces_digest(h.piece_codes);
  IF v_digest <> h.digest THEN
    RAISE EXCEPTION USING ERRCODE = 'IU028',
      MESSAGE = format('import refused: the pieces hash to %s…, the text says digest %s…', left(v_digest, 12), left(h.digest, 12));
  END IF;

  IF h.template_code IS NOT NULL THEN
    SELECT ct.* INTO t FROM iu_collection_template ct
     WHERE ct.code = h.template_code AND ct.version = h.template_version;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'IU004',
        MESSAGE = format('import refused: unknown template %s@%s', h.template_code, h.template_version);
    END IF;
    IF t.kind <> h.template_kind OR t.template_digest <> h.template_digest THEN
      RAISE EXCEPTION USING ERRCODE = 'IU028',
        MESSAGE = format('import refused: template %s@%s is %s with digest %s…, the text says %s with digest %s…',
                         t.code, t.version, t.kind, left(t.template_digest, 12), h.template_kind, left(h.template_digest, 12));
    END IF;
  END IF;

  v_id := fn_iu_compose(v_code, h.piece_codes, p_actor);
  IF fn_iu_membership_digest(v_id) <> h.digest THEN
    RAISE EXCEPTION USING ERRCODE = 'IU028',
      MESSAGE = format('import aborted: %s composed with a digest other than the text''s', v_code);
  END IF;
  IF h.template_code IS NOT NULL THEN
    INSERT INTO iu_collection_template_instance_lineage
      (instance_collection_id, template_id, template_code, template_version, template_digest, instance_digest, actor)
    VALUES (v_id, t.id, t.code, t.version, t.template_digest, h.digest, p_actor);
  END IF;
  RETURN v_id;
END
$fn$;

COMMENT ON FUNCTION fn_iu_collection_import_text(text, text, text) IS
  'Text-as-code import: composes the collection of a canonical text (under p_new_code, or the text''s code when NULL) through fn_iu_compose after checking piece content, template and collection digests; a text naming a template also gets a lineage row (actor = p_actor). Returns the new collection id.';
