-- 009: vector ledger, standing for what is indexed in Qdrant.

CREATE TABLE iu_vector_point (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  unit_id           uuid NOT NULL REFERENCES information_unit (id),
  qdrant_collection text NOT NULL CHECK (btrim(qdrant_collection) <> ''),
  point_id          text NOT NULL CHECK (btrim(point_id) <> ''),
  indexed_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (qdrant_collection, point_id)
);

CREATE INDEX iu_vector_point_unit_id_idx ON iu_vector_point (unit_id);

COMMENT ON TABLE iu_vector_point IS
  'Vector ledger: one row per point indexed in Qdrant for an information unit (pieces only; auto-instantiate never writes here).';

CREATE FUNCTION fn_iu_hc_vector_ledger() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_total   bigint;
  v_units   bigint;
  v_bad     bigint;
  v_sample  text;
BEGIN
  SELECT count(*), count(DISTINCT v.unit_id) INTO v_total, v_units FROM iu_vector_point v;
  SELECT count(*), string_agg(format('%s/%s -> unit %s', x.qdrant_collection, x.point_id, x.unit_id), ', ')
    INTO v_bad, v_sample
    FROM (SELECT v.qdrant_collection, v.point_id, v.unit_id
            FROM iu_vector_point v
           WHERE NOT EXISTS (SELECT 1 FROM information_unit u WHERE u.id = v.unit_id)
           ORDER BY v.qdrant_collection, v.point_id
           LIMIT 10) x;
  IF v_bad > 0 THEN
    SELECT count(*) INTO v_bad FROM iu_vector_point v
     WHERE NOT EXISTS (SELECT 1 FROM information_unit u WHERE u.id = v.unit_id);
    ok := false;
    detail := format('%s of %s vector points reference a missing unit: %s', v_bad, v_total, v_sample);
  ELSE
    ok := true;
    detail := format('%s vector points, all reference existing units (%s units indexed)', v_total, v_units);
  END IF;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_vector_ledger() IS
  'Healthcheck vector_ledger: every iu_vector_point references an existing information unit; names offending points.';

SELECT fn_iu_healthcheck_register('vector_ledger', 'fn_iu_hc_vector_ledger', 20, '009',
  'Every vector-ledger point references an existing information unit.');
