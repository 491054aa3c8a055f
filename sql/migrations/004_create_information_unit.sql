-- 004: information units (pieces and collections) and their content digest.

CREATE FUNCTION fn_iu_sha256_hex(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
  SELECT encode(sha256(convert_to(p_text, 'UTF8')), 'hex')
$fn$;

COMMENT ON FUNCTION fn_iu_sha256_hex(text) IS
  'Hex sha256 of the UTF-8 bytes of a text (immutable wrapper so generated columns and digests share one definition).';

CREATE TABLE information_unit (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code            text NOT NULL UNIQUE CHECK (btrim(code) <> ''),
  kind            text NOT NULL CHECK (kind IN ('piece', 'collection')),
  lifecycle_state text NOT NULL DEFAULT 'active' CHECK (lifecycle_state IN ('draft', 'active', 'retired')),
  axis_a          text,
  axis_b          text,
  axis_c          text,
  body            text NOT NULL DEFAULT '',
  content_digest  text GENERATED ALWAYS AS (fn_iu_sha256_hex(body)) STORED,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX information_unit_kind_idx ON information_unit (kind);

COMMENT ON TABLE information_unit IS
  'Information units: pieces (carrying the three envelope axes and a body) and collections composed of pieces.';

CREATE FUNCTION fn_iu_trg_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION fn_iu_trg_set_updated_at() IS
  'Trigger function: stamps updated_at on every update of an information unit.';

CREATE TRIGGER trg_information_unit_set_updated_at
  BEFORE UPDATE ON information_unit
  FOR EACH ROW EXECUTE FUNCTION fn_iu_trg_set_updated_at();

COMMENT ON TRIGGER trg_information_unit_set_updated_at ON information_unit IS
  'Keeps information_unit.updated_at current.';
